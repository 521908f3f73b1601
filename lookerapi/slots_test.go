package lookerapi_test

import (
	"context"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/lookerexport/exporter/lookerapi"
	"github.com/lookerexport/exporter/lookerapi/lookertest"
)

// recordingSlots wraps the default slots and records the user keys asked.
type recordingSlots struct {
	next lookerapi.QuerySlots
	mu   sync.Mutex
	keys map[string]int // user key -> max
}

func (s *recordingSlots) Acquire(ctx context.Context, user string, max int) (func(), error) {
	s.mu.Lock()
	s.keys[user] = max
	s.mu.Unlock()
	return s.next.Acquire(ctx, user, max)
}

// waitRecorder records OnSlotWait calls.
type waitRecorder struct {
	mu    sync.Mutex
	calls []bool
}

func (w *waitRecorder) record(waiting bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls = append(w.calls, waiting)
}

func (w *waitRecorder) get() []bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]bool(nil), w.calls...)
}

// Slots are per Looker user: the API user and each run_as user have
// MaxConcurrentQueries each. A run that waits says so through
// RunOptions.OnSlotWait and its own logger.
func TestQuerySlotsPerUser(t *testing.T) {
	t.Parallel()
	f := setup(t, setupOpts{server: lookertest.Options{Rows: 3}})
	slots := &recordingSlots{next: lookerapi.NewLocalQuerySlots(), keys: map[string]int{}}
	c, err := lookerapi.New(lookerapi.Config{BaseURL: f.srv.URL(), ClientID: f.srv.ClientID(), ClientSecret: f.srv.ClientSecret(),
		VerifySSL: true, MaxConcurrentQueries: 1}, f.log, lookerapi.WithClock(f.clock), lookerapi.WithQuerySlots(slots))
	require.NoError(t, err)
	ctx := context.Background()
	src := lookerapi.Source{LookID: lookertest.LookID}

	held, err := c.Run(ctx, src, lookerapi.RunOptions{ResultFormat: "csv"})
	require.NoError(t, err)

	// Another user's slots are not taken.
	var other waitRecorder
	res, err := c.Run(ctx, src, lookerapi.RunOptions{ResultFormat: "csv", RunAs: "7", OnSlotWait: other.record})
	require.NoError(t, err)
	readAll(t, res)
	require.Empty(t, other.get(), "no wait, no call")

	// The API user's second run waits, and says so in its own log.
	core, runLogs := observer.New(zapcore.InfoLevel)
	var waits waitRecorder
	done := make(chan error, 1)
	go func() {
		res, err := c.Run(ctx, src, lookerapi.RunOptions{ResultFormat: "csv", Log: zap.New(core).With(zap.String("run_id", "r1")), OnSlotWait: waits.record})
		if err == nil {
			readAll(t, res)
		}
		done <- err
	}()
	require.Eventually(t, func() bool { return len(waits.get()) == 1 }, 10*time.Second, time.Millisecond)
	require.Equal(t, []bool{true}, waits.get())
	readAll(t, held)
	require.NoError(t, <-done)
	require.Equal(t, []bool{true, false}, waits.get())
	require.Equal(t, 1, runLogs.FilterMessage("waiting for a free query slot").FilterField(zap.String("run_id", "r1")).Len())
	require.Equal(t, 1, runLogs.FilterMessage("query slot free, the run goes on").Len())

	// A run whose ctx ends while it waits stops waiting.
	held, err = c.Run(ctx, src, lookerapi.RunOptions{ResultFormat: "csv"})
	require.NoError(t, err)
	var gaveUp waitRecorder
	qctx, cancel := context.WithCancel(ctx)
	go func() {
		_, err := c.Run(qctx, src, lookerapi.RunOptions{ResultFormat: "csv", OnSlotWait: gaveUp.record})
		done <- err
	}()
	require.Eventually(t, func() bool { return len(gaveUp.get()) == 1 }, 10*time.Second, time.Millisecond)
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	require.Equal(t, []bool{true, false}, gaveUp.get())
	readAll(t, held)

	require.Equal(t, map[string]int{
		f.srv.URL() + " " + f.srv.ClientID():             1,
		f.srv.URL() + " " + f.srv.ClientID() + " sudo 7": 1,
	}, slots.keys)
	require.NoError(t, c.Close(ctx))
}

// heldSlots counts the slots held.
type heldSlots struct {
	next lookerapi.QuerySlots
	held atomic.Int32
}

func (s *heldSlots) Acquire(ctx context.Context, user string, max int) (func(), error) {
	release, err := s.next.Acquire(ctx, user, max)
	if err != nil {
		return nil, err
	}
	s.held.Add(1)
	var once sync.Once
	return func() { once.Do(func() { s.held.Add(-1); release() }) }, nil
}

// A run gives its query slot back once its body has reached its end: the
// query is over in Looker, whatever the caller still does (write files,
// record the run) before it closes the body.
func TestQuerySlotFreedAtTheEndOfTheBody(t *testing.T) {
	t.Parallel()
	f := setup(t, setupOpts{server: lookertest.Options{Rows: 30}})
	slots := &heldSlots{next: lookerapi.NewLocalQuerySlots()}
	c, err := lookerapi.New(lookerapi.Config{BaseURL: f.srv.URL(), ClientID: f.srv.ClientID(), ClientSecret: f.srv.ClientSecret(),
		VerifySSL: true, MaxConcurrentQueries: 1}, f.log, lookerapi.WithClock(f.clock), lookerapi.WithQuerySlots(slots))
	require.NoError(t, err)
	ctx := context.Background()
	for _, mode := range []lookerapi.Mode{lookerapi.ModeSync, lookerapi.ModeAsync} {
		res, err := c.Run(ctx, lookerapi.Source{LookID: lookertest.LookID}, lookerapi.RunOptions{ResultFormat: "csv", Mode: mode})
		require.NoError(t, err)
		require.EqualValues(t, 1, slots.held.Load(), "%s: held while the body streams", mode)
		_, err = io.ReadAll(res.Body)
		require.NoError(t, err)
		require.Zero(t, slots.held.Load(), "%s: given back at the end of the body, before Close", mode)
		require.NoError(t, res.Body.Close())
		require.Zero(t, slots.held.Load())
	}

	// A body closed before its end still holds its slot until Close.
	res, err := c.Run(ctx, lookerapi.Source{LookID: lookertest.LookID}, lookerapi.RunOptions{ResultFormat: "csv"})
	require.NoError(t, err)
	_, err = res.Body.Read(make([]byte, 10))
	require.NoError(t, err)
	require.EqualValues(t, 1, slots.held.Load())
	require.NoError(t, res.Body.Close())
	require.Zero(t, slots.held.Load())
	require.NoError(t, c.Close(ctx))
}
