package lookerapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// ErrReadIdle means a response body delivered no bytes for
// Config.ReadIdleTimeout while it was being read: Looker (or a proxy)
// stalled after the headers. Retryable: a new run may get a moving
// stream.
var ErrReadIdle = errors.New("the response body stalled")

// streamBody is a response body that releases its request context on
// Close, fails a Read that waits longer than idle for bytes (ErrReadIdle),
// and turns read failures into retryable *Error values (an unexpected EOF
// mid-body is not a clean end).
type streamBody struct {
	rc     io.ReadCloser
	cancel context.CancelCauseFunc
	ctx    context.Context // the caller's
	reqCtx context.Context // the request's: ends on cancel, ctx's end, or idle
	clock  Clock
	idle   time.Duration
	op     string
	method string
	path   string
	source string
}

// Read arms the idle timer only while it waits, so a slow consumer never
// counts against Looker.
func (b *streamBody) Read(p []byte) (int, error) {
	var t Timer
	if b.idle > 0 {
		t = b.clock.AfterFunc(b.idle, func() { b.cancel(ErrReadIdle) })
	}
	n, err := b.rc.Read(p)
	if t != nil {
		t.Stop()
	}
	if err != nil && err != io.EOF {
		var e *Error
		switch {
		case b.ctx.Err() == nil && errors.Is(context.Cause(b.reqCtx), ErrReadIdle):
			err = &Error{Op: b.op, Method: b.method, Path: b.path, Err: ErrReadIdle, Retryable: true,
				Message: fmt.Sprintf("Looker sent nothing for %s while the result was being read (looker.read_idle_timeout); the query may be stuck in the warehouse or behind a proxy", b.idle)}
		case !errors.As(err, &e):
			err = transportError(b.ctx, b.op, b.method, b.path, "reading the response body", err)
		}
		err = withSource(err, b.source)
	}
	return n, err
}

func (b *streamBody) Close() error {
	err := b.rc.Close()
	b.cancel(nil)
	return err
}
