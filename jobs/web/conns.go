package web

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// Bounds of the status server. Its answers are small pages and JSON read
// from the state store, and nothing streams, so these are generous for
// real clients and short for clients that only hold a connection open.
const (
	// ReadHeaderTimeout is how long a client may take to send a request's
	// header (slowloris clients send it a byte at a time).
	ReadHeaderTimeout = 10 * time.Second
	// ReadTimeout bounds reading a whole request; the only bodies are the
	// sign-in form and empty POSTs.
	ReadTimeout = 30 * time.Second
	// WriteTimeout bounds a request from the end of its header to the end
	// of its answer: the slowest handler is a page reading the store.
	WriteTimeout = time.Minute
	// IdleTimeout closes a keep-alive connection that sends no next
	// request. Without it an idle connection stays open for ever.
	IdleTimeout = time.Minute
	// MaxHeaderBytes caps a request's header; ours are a cookie or a
	// bearer token.
	MaxHeaderBytes = 64 << 10
)

// newHTTPServer is the http.Server Serve uses: every timeout set, and the
// limiter told of each connection's state.
func newHTTPServer(h http.Handler, l *connLimiter) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ConnState:         l.connState,
	}
}

// connLimiter is a listener that holds at most max connections open, so
// that clients (no token is needed to connect) cannot take the file
// descriptors runs need: a run opens a connection to Looker and its output
// files, and fails with "too many open files" when they are gone.
//
// When a connection arrives and max are open, the limiter closes the one
// that has waited longest without a request in progress: an idle
// keep-alive connection, or one that has not finished sending its first
// header. Only when every open connection is in the middle of a request
// does Accept wait, and then only until one of them finishes (WriteTimeout
// at most).
//
// Why not golang.org/x/net/netutil.LimitListener: it stops accepting when
// full, so max idle connections would hold every new one, /healthz from a
// Kubernetes probe included, in the kernel's queue until IdleTimeout or
// ReadHeaderTimeout frees a slot; a client that keeps reopening idle
// connections would keep the probe failing and have the pod restarted,
// runs and all. Closing idle connections instead costs real clients
// nothing: HTTP clients retry a request on a kept-alive connection the
// server has closed, and browsers reconnect.
type connLimiter struct {
	net.Listener
	max int

	mu     sync.Mutex
	freed  *sync.Cond // a connection closed or went idle, or the listener closed
	open   map[*limitedConn]struct{}
	seq    uint64 // orders connections by when they last went idle
	closed bool
}

func newConnLimiter(ln net.Listener, maxConns int) *connLimiter {
	l := &connLimiter{Listener: ln, max: maxConns, open: map[*limitedConn]struct{}{}}
	l.freed = sync.NewCond(&l.mu)
	return l
}

// limitedConn is a connection counted by its connLimiter. Its fields
// other than Conn are guarded by the limiter's mu.
type limitedConn struct {
	net.Conn
	l         *connLimiter
	once      sync.Once
	busy      bool   // a request is being handled
	idleSince uint64 // the limiter's seq when it last went idle
}

// Accept accepts a connection, then makes room for it: it closes the
// longest-idle open connection, or waits for one to finish its request.
func (l *connLimiter) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	lc := &limitedConn{Conn: c, l: l}
	l.mu.Lock()
	for len(l.open) >= l.max && !l.closed {
		if victim := l.longestIdle(); victim != nil {
			delete(l.open, victim) // its own Close finds it gone
			l.mu.Unlock()
			_ = victim.Conn.Close() // the server's read fails, and it lets go
			l.mu.Lock()
			continue
		}
		l.freed.Wait()
	}
	if l.closed {
		l.mu.Unlock()
		_ = c.Close()
		return nil, net.ErrClosed
	}
	l.seq++
	lc.idleSince = l.seq
	l.open[lc] = struct{}{}
	l.mu.Unlock()
	return lc, nil
}

// longestIdle returns the open connection that has gone longest without
// a request in progress, or nil when every one is handling a request.
func (l *connLimiter) longestIdle() *limitedConn {
	var victim *limitedConn
	for c := range l.open {
		if !c.busy && (victim == nil || c.idleSince < victim.idleSince) {
			victim = c
		}
	}
	return victim
}

// Close closes the listener and wakes an Accept waiting for room.
func (l *connLimiter) Close() error {
	l.mu.Lock()
	l.closed = true
	l.freed.Broadcast()
	l.mu.Unlock()
	return l.Listener.Close()
}

// connState is the http.Server's ConnState hook. A connection is busy
// from the end of a request's header (StateActive) to the end of its
// answer (StateIdle); before its first request is read (StateNew) it may
// be closed to make room.
func (l *connLimiter) connState(c net.Conn, st http.ConnState) {
	lc, ok := c.(*limitedConn)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch st {
	case http.StateActive:
		lc.busy = true
	case http.StateIdle:
		lc.busy = false
		l.seq++
		lc.idleSince = l.seq
		l.freed.Broadcast()
	case http.StateHijacked, http.StateClosed:
		l.remove(lc)
	}
}

// remove forgets c; l.mu is held.
func (l *connLimiter) remove(c *limitedConn) {
	if _, ok := l.open[c]; ok {
		delete(l.open, c)
		l.freed.Broadcast()
	}
}

// openConns returns how many connections are open (tests).
func (l *connLimiter) openConns() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.open)
}

// busyConns returns how many open connections are handling a request
// (tests).
func (l *connLimiter) busyConns() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for c := range l.open {
		if c.busy {
			n++
		}
	}
	return n
}

func (c *limitedConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		c.l.remove(c)
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}
