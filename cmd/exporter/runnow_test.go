package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/state"
)

// TestRunNowTakesARunSlot pins that Run now in serve counts against
// scheduler.max_concurrent_runs like a scheduled fire: with one slot taken,
// a second Run now is accepted at once (202) and recorded, then waits,
// holding its lease, and runs when the slot is free.
func TestRunNowTakesARunSlot(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, "127.0.0.1:0", func(s *jobs.Scheduler) { s.MaxConcurrentRuns = 1 })
	release := make(chan struct{})
	free := sync.OnceFunc(func() { close(release) })
	t.Cleanup(free)
	arrived := d.looker.StallNextRun(release, true)
	first := d.startRunNow(t, "orders_csv")
	select {
	case <-arrived:
	case <-time.After(20 * time.Second):
		t.Fatal("the first run did not reach Looker")
	}

	second := d.startRunNow(t, "orders_jsonl") // answered while it waits
	require.Contains(t, d.logs.String(), "waiting for a run slot")
	got, err := d.app.store.GetRun(context.Background(), second)
	require.NoError(t, err)
	require.Equal(t, state.Running, got.Status)
	require.False(t, got.LeaseExpires.IsZero(), "it holds its lease while it waits")
	require.Equal(t, 1, d.looker.Requests("run_look")+d.looker.Requests("run_query"), "one run at a time")

	free()
	for _, id := range []string{first, second} {
		ri := d.waitRun(t, id)
		require.Equal(t, string(state.Succeeded), ri.Status, id)
	}
}

// TestRunNowConflictNamesTheHolder pins that Run now of a key another
// process holds under a live lease answers 409 naming that process.
func TestRunNowConflictNamesTheHolder(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, "127.0.0.1:0")
	ctx := context.Background()
	now := time.Now().Truncate(time.Second)
	for i := range 30 { // the second Run now picks, and a margin for a slow machine
		_, claimed, err := d.app.store.Claim(ctx, "orders_csv", now.Add(time.Duration(i)*time.Second), "other-host", time.Now(), time.Hour)
		require.NoError(t, err)
		require.True(t, claimed)
	}
	code, body := d.do(t, http.MethodPost, "/api/v1/jobs/orders_csv/run", true)
	require.Equal(t, http.StatusConflict, code, body)
	var conflict struct {
		Error   string `json:"error"`
		RunID   string `json:"run_id"`
		Replica string `json:"replica"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &conflict))
	require.Equal(t, "other-host", conflict.Replica)
	require.Contains(t, conflict.Error, `held by replica "other-host"`)
	require.NotEmpty(t, conflict.RunID)
	require.Zero(t, d.looker.Requests("run_look")+d.looker.Requests("run_query"))
	require.False(t, strings.Contains(d.logs.String(), `"run started"`), "nothing ran")
}

// TestShutdownInterruptsRunNow pins that stopping the daemon (SIGTERM)
// gives a run started with Run now the drain timeout, then interrupts it:
// it is recorded interrupted (cause: shutdown), not left running.
func TestShutdownInterruptsRunNow(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, "127.0.0.1:0", func(s *jobs.Scheduler) { s.DrainTimeout = time.Millisecond })
	release := make(chan struct{})
	arrived := d.looker.StallNextRun(release, true)
	id := d.startRunNow(t, "orders_csv")
	select {
	case <-arrived:
	case <-time.After(20 * time.Second):
		t.Fatal("the run did not reach Looker")
	}
	stopped := make(chan error, 1)
	go func() { stopped <- d.stop() }()
	select {
	case err := <-stopped:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		close(release) // let the test end
		t.Fatal("the daemon did not stop: the Run now run was never interrupted")
	}
	got, err := d.app.store.GetRun(context.Background(), id)
	require.NoError(t, err)
	require.Equal(t, state.Interrupted, got.Status, "error: %s", got.Error)
	require.Equal(t, jobs.ClassCancelled, got.ErrorClass)
	require.Contains(t, got.Error, jobs.ErrShutdown.Error())
}
