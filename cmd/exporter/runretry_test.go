package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/lookerapi/lookertest"
	"github.com/lookerexport/exporter/state"
	"github.com/lookerexport/exporter/state/sqlite"
)

// The tests of finding 2 of issue 11: `exporter run` retries under the
// job's policy and alerts like the daemon.

// TestRunRetriesUnderTheJobsPolicy: `exporter run` of a job with
// retries.max_attempts: 3 succeeds after one dropped stream, as a second
// attempt of the same key; with --no-retry it makes one attempt and exits
// 75.
func TestRunRetriesUnderTheJobsPolicy(t *testing.T) {
	t.Parallel()
	f := newFixture(t, runRetryJobYAML+"    retries: {max_attempts: 3, backoff: 10ms, max_backoff: 10ms}\n")
	ctx := context.Background()

	f.srv.DropNextRun(10)
	code, stdout, stderr := exec(t, ctx, "run", "--config", f.conf, "orders", "--at", "2026-11-27T06:00:00Z")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	attempts := f.runs(t)
	require.Len(t, attempts, 2)
	require.Equal(t, state.Succeeded, attempts[0].Status)
	require.Equal(t, 2, attempts[0].Attempt)
	require.Equal(t, state.Failed, attempts[1].Status)
	require.Equal(t, jobs.ClassRetryable, attempts[1].ErrorClass)
	require.Equal(t, attempts[0].ScheduledTime, attempts[1].ScheduledTime)

	f.srv.DropNextRun(10)
	code, stdout, stderr = exec(t, ctx, "run", "--config", f.conf, "orders", "--at", "2026-11-28T06:00:00Z", "--no-retry")
	require.Equal(t, exitTempFail, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	require.Len(t, f.runs(t), 3)
	// The error printed is the run's recorded one, cause first.
	require.Regexp(t, `(?m)^exporter: reading the response body: unexpected EOF; look 42: \S+ GET /api/4.0/\S+ \(read result: `, stderr)
}

// TestRunSendsTheFailureWebhook: a failure recorded by `exporter run` is
// alerted like the daemon's, so it does not mute the daemon's next alert.
func TestRunSendsTheFailureWebhook(t *testing.T) {
	t.Parallel()
	f := newFixture(t, runRetryJobYAML)
	hooks := newWebhookSink(t)
	conf, err := os.ReadFile(f.conf)
	require.NoError(t, err)
	hook := fmt.Sprintf("notify:\n  - name: oncall\n    url: %s/hook\n    format: json\njobs:\n", hooks.srv.URL)
	require.NoError(t, os.WriteFile(f.conf, []byte(strings.Replace(string(conf), "jobs:\n", hook, 1)), 0o600))

	f.srv.FailNext(lookertest.Fault{Status: http.StatusNotFound, PathPrefix: "/looks/"})
	code, stdout, stderr := exec(t, context.Background(), "run", "--config", f.conf, "orders")
	require.Equal(t, exitFailed, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	hooks.mu.Lock()
	defer hooks.mu.Unlock()
	require.Len(t, hooks.got, 1, "webhooks when `exporter run` returned")
	require.Equal(t, "failure", hooks.got[0]["event"])
	require.Equal(t, "orders", hooks.got[0]["job"])
}

const runRetryJobYAML = `  - name: orders
    schedule: "* * * * *"
    timezone: UTC
    source: {look_id: "42"}
    format: csv
    destination: $DIR/out/{{ .RunID }}.csv
`

// TestRunOfAKeyInFlightElsewhereExits75: `exporter run` of a key whose
// attempt holds a live lease in another process leaves it alone and says
// "try again later".
func TestRunOfAKeyInFlightElsewhereExits75(t *testing.T) {
	t.Parallel()
	f := newFixture(t, runRetryJobYAML)
	ctx := context.Background()
	at := time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)
	st, err := sqlite.Open(ctx, filepath.Join(f.dir, "state.db"))
	require.NoError(t, err)
	_, claimed, err := st.Claim(ctx, "orders", at, "elsewhere", time.Now(), time.Hour)
	require.NoError(t, err)
	require.True(t, claimed)
	require.NoError(t, st.Close())

	code, stdout, stderr := exec(t, ctx, "run", "--config", f.conf, "orders", "--at", at.Format(time.RFC3339))
	require.Equal(t, exitTempFail, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	require.Contains(t, stderr, "in flight")
	runs := f.runs(t)
	require.Len(t, runs, 1)
	require.Equal(t, state.Running, runs[0].Status)
}
