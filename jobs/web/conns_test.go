package web

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// limiterSetup serves h through a connLimiter of maxConns on 127.0.0.1.
type limiterSetup struct {
	lim  *connLimiter
	addr string
}

func setupLimiter(t *testing.T, maxConns int, h http.Handler) *limiterSetup {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	lim := newConnLimiter(ln, maxConns)
	hs := newHTTPServer(h, lim)
	done := make(chan error, 1)
	go func() { done <- hs.Serve(lim) }()
	t.Cleanup(func() {
		require.NoError(t, hs.Close())
		require.ErrorIs(t, <-done, http.ErrServerClosed)
	})
	return &limiterSetup{lim: lim, addr: ln.Addr().String()}
}

// waitIdle waits until the server has marked every open connection idle.
// A client reads an answer before the server's goroutine reports the
// connection idle (ConnState), so without this a busy machine can leave a
// connection "in a request" long after its answer arrived.
func (s *limiterSetup) waitIdle(t *testing.T) {
	t.Helper()
	require.Eventually(t, func() bool { return s.lim.busyConns() == 0 }, 30*time.Second, time.Millisecond, "the server never marked its connections idle")
}

// get sends GET path on c and reads the answer's status line and headers
// and body.
func get(t *testing.T, c net.Conn, r *bufio.Reader, path string) (*http.Response, error) {
	t.Helper()
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return nil, err
	}
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		return nil, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, err
}

func dial(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	require.NoError(t, c.SetDeadline(time.Now().Add(30*time.Second))) // never hang the test
	return c, bufio.NewReader(c)
}

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })

// TestConnLimiterClosesLongestIdle: at the cap, a new connection makes the
// server close the connection idle the longest (a silent one or a
// kept-alive one), keep the others, and serve the new one.
func TestConnLimiterClosesLongestIdle(t *testing.T) {
	t.Parallel()
	s := setupLimiter(t, 3, okHandler)
	type conn struct {
		c net.Conn
		r *bufio.Reader
	}
	var cs []conn
	for range 3 {
		c, r := dial(t, s.addr)
		resp, err := get(t, c, r, "/")
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		cs = append(cs, conn{c, r})
		s.waitIdle(t)
	}
	// cs[1] is used again: cs[0] is now the longest idle.
	_, err := get(t, cs[1].c, cs[1].r, "/")
	require.NoError(t, err)
	s.waitIdle(t)

	fresh, fr := dial(t, s.addr)
	resp, err := get(t, fresh, fr, "/healthz")
	require.NoError(t, err, "a new connection is served at the cap")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	_, err = cs[0].r.ReadByte()
	require.ErrorIs(t, err, io.EOF, "the longest-idle connection is closed")
	for _, c := range cs[1:] {
		_, err := get(t, c.c, c.r, "/")
		require.NoError(t, err, "the other connections stay open")
	}
	require.LessOrEqual(t, s.lim.openConns(), 3)

	// A connection that never finishes its header is idle too.
	slow, sr := dial(t, s.addr)
	_, err = io.WriteString(slow, "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
	require.NoError(t, err)
	for i := range 3 {
		c, r := dial(t, s.addr)
		_, err := get(t, c, r, "/")
		require.NoError(t, err, "connection %d", i)
		s.waitIdle(t)
	}
	_, err = sr.ReadByte()
	require.Error(t, err, "the slow connection was closed")
	require.LessOrEqual(t, s.lim.openConns(), 3)
}

// TestConnLimiterWaitsForBusyConnections: when every open connection is
// handling a request, a new one waits for a request to finish; no request
// in progress is cut.
func TestConnLimiterWaitsForBusyConnections(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var inHandler, peak, now atomic.Int32
	s := setupLimiter(t, 2, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := now.Add(1)
		defer now.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		if r.URL.Path == "/slow" {
			inHandler.Add(1)
			<-release
		}
		_, _ = w.Write([]byte("ok\n"))
	}))
	type result struct {
		resp *http.Response
		err  error
	}
	results := make(chan result, 3)
	for range 2 {
		c, r := dial(t, s.addr)
		go func() { resp, err := get(t, c, r, "/slow"); results <- result{resp, err} }()
	}
	deadline := time.Now().Add(30 * time.Second)
	for inHandler.Load() < 2 {
		require.True(t, time.Now().Before(deadline), "the slow requests never arrived")
		time.Sleep(5 * time.Millisecond) // polling with a deadline
	}
	c, r := dial(t, s.addr)
	go func() { resp, err := get(t, c, r, "/"); results <- result{resp, err} }()
	close(release)
	for range 3 {
		res := <-results
		require.NoError(t, res.err)
		require.Equal(t, http.StatusOK, res.resp.StatusCode)
	}
	require.LessOrEqual(t, peak.Load(), int32(2))
}

// TestConnLimiterCloseWakesAccept: closing the listener (shutdown) ends an
// Accept that waits for room.
func TestConnLimiterCloseWakesAccept(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	lim := newConnLimiter(ln, 1)
	dial(t, ln.Addr().String())
	held, err := lim.Accept()
	require.NoError(t, err)
	defer held.Close()
	lim.connState(held, http.StateActive)
	dial(t, ln.Addr().String())
	accepted := make(chan error, 1)
	go func() {
		c, err := lim.Accept()
		if c != nil {
			c.Close()
		}
		accepted <- err
	}()
	require.NoError(t, lim.Close())
	require.True(t, errors.Is(<-accepted, net.ErrClosed))
}

func TestHTTPServerIsBounded(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	hs := newHTTPServer(okHandler, newConnLimiter(ln, 1))
	for name, d := range map[string]time.Duration{"ReadHeaderTimeout": hs.ReadHeaderTimeout, "ReadTimeout": hs.ReadTimeout, "WriteTimeout": hs.WriteTimeout, "IdleTimeout": hs.IdleTimeout} {
		require.Positive(t, d, name)
	}
	require.Equal(t, 64<<10, hs.MaxHeaderBytes)
	require.NotNil(t, hs.ConnState)
}
