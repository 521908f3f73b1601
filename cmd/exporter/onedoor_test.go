//go:build linux

package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	execpkg "os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/state"
	"github.com/lookerexport/exporter/state/sqlite"
)

// The tests of finding 1 of issue 11: every way into a run (a scheduled
// fire, `exporter run`, Run now) claims its key and holds a lease, so a
// killed holder blocks the job for at most one lease plus one fire.

// crashChildEnv makes TestCrashChild act as the child of the crash tests:
// its value is the mode ("run" or "daemon"), crashConfEnv the config file.
const (
	crashChildEnv = "EXPORTER_CRASH_CHILD"
	crashConfEnv  = "EXPORTER_CRASH_CONF"
)

const crashJobYAML = `  - name: orders
    schedule: "* * * * *"
    timezone: UTC
    source: {look_id: "42"}
    format: csv
    destination: $DIR/out/{{ .RunID }}.csv
`

// TestCrashChild is not a test: the crash tests run the test binary again
// to get a process they can SIGKILL in the middle of a run. In mode "run"
// it is `exporter run --config CONF orders`; in mode "daemon" it is the
// daemon's wiring (runner, notifier, status server) with a scheduler that
// never fires by itself, and it prints "daemon BASE" once it listens.
func TestCrashChild(t *testing.T) {
	mode, conf := os.Getenv(crashChildEnv), os.Getenv(crashConfEnv)
	if mode == "" {
		t.Skip("helper process for the crash tests; runs only as their child")
	}
	ctx := context.Background()
	switch mode {
	case "run":
		os.Exit(Main(ctx, []string{"run", "--config", conf, "orders"}, os.Stdout, os.Stderr))
	case "daemon":
		cfg, err := (&globals{}).loadConfig(conf, exitUsage)
		require.NoError(t, err)
		a, err := newApp(ctx, cfg, zaptest.NewLogger(t), nil)
		require.NoError(t, err)
		s := &jobs.Scheduler{Runner: a.runner, Jobs: cfg.Jobs, Log: a.log.Named("scheduler"), Clock: stillClock{now: time.Now()}}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		fmt.Printf("daemon http://%s\n", ln.Addr())
		require.NoError(t, runDaemon(ctx, a, s, time.Second, daemonOptions{listener: ln}))
	}
}

// startCrashChild starts TestCrashChild in mode and returns it with a
// channel of its stdout lines.
func startCrashChild(t *testing.T, mode, conf string) (*execpkg.Cmd, <-chan string) {
	t.Helper()
	cmd := execpkg.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+mode, crashConfEnv+"="+conf)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, lines
}

// waitClosed waits for ch with a deadline.
func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(time.Minute):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// crashClock is a manual scheduler clock: timers fire only when the test
// advances it.
type crashClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []crashTimer
}

type crashTimer struct {
	at time.Time
	ch chan time.Time
}

func (c *crashClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *crashClock) After(d time.Duration) (<-chan time.Time, func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch, func() {}
	}
	c.timers = append(c.timers, crashTimer{at: c.now.Add(d), ch: ch})
	return ch, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		for i, ft := range c.timers {
			if ft.ch == ch {
				c.timers = append(c.timers[:i], c.timers[i+1:]...)
				return
			}
		}
	}
}

// next returns the earliest pending timer and how many are pending.
func (c *crashClock) AfterFunc(d time.Duration, f func()) func() bool {
	return jobs.AfterFuncVia(c.After, d, f)
}

func (c *crashClock) next() (time.Time, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var first time.Time
	for _, ft := range c.timers {
		if first.IsZero() || ft.at.Before(first) {
			first = ft.at
		}
	}
	return first, len(c.timers)
}

func (c *crashClock) advanceTo(at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = at
	kept := c.timers[:0]
	for _, ft := range c.timers {
		if !ft.at.After(at) {
			ft.ch <- at
			continue
		}
		kept = append(kept, ft)
	}
	c.timers = kept
}

// serveAfterCrash runs a scheduler on the fixture's state, on a manual
// clock, through one lease plus one fire after the dead run's lease would
// have expired, and checks that the job exported again and that the dead
// run was recorded interrupted.
func serveAfterCrash(t *testing.T, f *fixture, dead state.Run) {
	t.Helper()
	ctx := context.Background()
	cfg, err := (&globals{}).loadConfig(f.conf, exitUsage)
	require.NoError(t, err)
	a, err := newApp(ctx, cfg, zaptest.NewLogger(t), nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close(ctx) })
	start := dead.StartedAt.Add(time.Second)
	clock := &crashClock{now: start}
	s := &jobs.Scheduler{Runner: a.runner, Jobs: cfg.Jobs, Clock: clock, Log: a.log.Named("scheduler"), DrainTimeout: time.Minute, Lease: cfg.Scheduler.Lease}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(sctx) }()

	lease := cfg.Scheduler.Lease
	end := start.Add(lease + time.Minute) // one lease plus one fire
	settled := func() {
		// The job's loop and the reaper wait on the clock, and nothing runs.
		deadline := time.Now().Add(time.Minute)
		for {
			if _, n := clock.next(); n == 2 && s.InFlight() == 0 {
				return
			}
			require.True(t, time.Now().Before(deadline), "the scheduler did not settle")
			time.Sleep(time.Millisecond) // polling with a deadline
		}
	}
	for {
		settled()
		at, _ := clock.next()
		if at.After(end) {
			break
		}
		clock.advanceTo(at)
	}
	stop()
	require.NoError(t, <-done)

	runs := f.runs(t)
	var exported int
	for _, r := range runs {
		if r.ID == dead.ID {
			require.Equal(t, state.Interrupted, r.Status, "the dead run: %+v", r)
			require.Equal(t, state.ClassLeaseExpired, r.ErrorClass)
			require.NotEmpty(t, r.Error)
			continue
		}
		if r.ScheduledTime.After(dead.StartedAt.Add(lease)) {
			require.Equal(t, state.Succeeded, r.Status, "a fire after the dead run's lease: %+v", r)
		}
		if r.Status == state.Succeeded {
			exported++
			require.Len(t, r.URIs, 1)
			require.FileExists(t, strings.TrimPrefix(r.URIs[0], "file://"))
		}
	}
	require.NotZero(t, exported, "no run exported after the crash: %+v", runs)
}

// onlyRun returns the fixture's only run.
func onlyRun(t *testing.T, f *fixture) state.Run {
	t.Helper()
	runs := f.runs(t)
	require.Len(t, runs, 1)
	require.Equal(t, state.Running, runs[0].Status)
	return runs[0]
}

// TestKilledRunDoesNotBlockTheJob: `exporter run` SIGKILLed mid-stream,
// then the scheduler on the same state exports the next fires within one
// lease plus one fire, and records the dead run interrupted.
func TestKilledRunDoesNotBlockTheJob(t *testing.T) {
	t.Parallel()
	f := newFixture(t, crashJobYAML)
	release := make(chan struct{})
	arrived := f.srv.StallNextRun(release, true)
	child, _ := startCrashChild(t, "run", f.conf)
	waitClosed(t, arrived, "the child's run to reach Looker")
	dead := onlyRun(t, f)
	require.NoError(t, child.Process.Kill())
	_ = child.Wait()
	close(release)
	serveAfterCrash(t, f, dead)
}

// TestKilledDaemonDuringRunNowDoesNotBlockTheJob: the same for a daemon
// SIGKILLed while a run started with Run now streams.
func TestKilledDaemonDuringRunNowDoesNotBlockTheJob(t *testing.T) {
	t.Parallel()
	f := newFixture(t, crashJobYAML)
	conf, err := os.ReadFile(f.conf)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(f.conf, []byte(strings.Replace(string(conf), "jobs:\n", "server:\n  token: crash-token-0123456789abcdef\njobs:\n", 1)), 0o600))
	release := make(chan struct{})
	arrived := f.srv.StallNextRun(release, true)
	child, lines := startCrashChild(t, "daemon", f.conf)
	var base string
	for base == "" {
		select {
		case line, ok := <-lines:
			require.True(t, ok, "the child exited before listening")
			if rest, found := strings.CutPrefix(line, "daemon "); found {
				base = rest
			}
		case <-time.After(time.Minute):
			t.Fatal("the child did not start its daemon")
		}
	}
	req, err := http.NewRequest(http.MethodPost, base+"/api/v1/jobs/orders/run", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer crash-token-0123456789abcdef")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	waitClosed(t, arrived, "the Run now to reach Looker")
	dead := onlyRun(t, f)
	require.NoError(t, child.Process.Kill())
	_ = child.Wait()
	close(release)
	serveAfterCrash(t, f, dead)
}

// TestLeaselessRunDoesNotBlockTheJob: a run left Running without a lease
// (recorded by StartRun, as `exporter run` and Run now did before they
// claimed their key) is taken as dead one lease after it started.
func TestLeaselessRunDoesNotBlockTheJob(t *testing.T) {
	t.Parallel()
	f := newFixture(t, crashJobYAML)
	st, err := sqlite.Open(context.Background(), filepath.Join(f.dir, "state.db"))
	require.NoError(t, err)
	started := time.Now().UTC().Truncate(time.Second)
	_, err = st.StartRun(context.Background(), "orders", started, started)
	require.NoError(t, err)
	require.NoError(t, st.Close())
	serveAfterCrash(t, f, onlyRun(t, f))
}
