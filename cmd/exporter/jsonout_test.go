package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/jobs/web"
)

func TestRunJSONOutput(t *testing.T) {
	t.Parallel()
	f := newFixture(t, `  - {name: ok, schedule: '@daily', source: {look_id: "42"}, format: csv, destination: '$DIR/ok.csv'}
  - {name: missing, schedule: '@daily', source: {look_id: "404"}, format: csv, destination: '$DIR/missing.csv'}
`)
	code, stdout, stderr := exec(t, context.Background(), "run", "--config", f.conf, "ok", "-o", "json")
	require.Equal(t, exitOK, code, stderr)
	var run web.RunInfo
	require.NoError(t, json.Unmarshal([]byte(stdout), &run), stdout)
	require.Equal(t, "ok", run.Job)
	require.Equal(t, "succeeded", run.Status)
	require.EqualValues(t, e2eRows, run.Rows)
	require.Equal(t, []string{"file://" + f.dir + "/ok.csv"}, run.URIs)
	require.Equal(t, f.runs(t)[0].ID, run.ID)

	code, stdout, _ = exec(t, context.Background(), "run", "--config", f.conf, "missing", "--output", "json")
	require.Equal(t, exitFailed, code)
	require.NoError(t, json.Unmarshal([]byte(stdout), &run), stdout)
	require.Equal(t, "failed", run.Status)
	require.Contains(t, run.Error, "404")

	code, _, stderr = exec(t, context.Background(), "run", "--config", f.conf, "ok", "-o", "yaml")
	require.Equal(t, exitUsage, code)
	require.Contains(t, stderr, "use text or json")
}

func TestBackfillJSONOutput(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "  - {name: daily, schedule: '0 6 * * *', source: {look_id: '42'}, format: csv,\n"+
		"     destination: '$DIR/out/dt={{ date \"2006-01-02\" }}.csv'}\n")
	code, _, stderr := exec(t, context.Background(), "run", "--config", f.conf, "daily", "--at", "2026-11-02T06:00:00Z")
	require.Equal(t, exitOK, code, stderr)
	first := f.runs(t)[0]
	code, stdout, stderr := exec(t, context.Background(), "backfill", "--config", f.conf, "daily", "--from", "2026-11-01", "--to", "2026-11-04", "--parallel", "2", "-o", "json")
	require.Equal(t, exitOK, code, stderr)
	var out backfillOut
	require.NoError(t, json.Unmarshal([]byte(stdout), &out), stdout)
	require.Equal(t, "daily", out.Job)
	require.Equal(t, 3, out.Summary.Total)
	require.Equal(t, 2, out.Summary.Succeeded)
	require.Equal(t, 1, out.Summary.Skipped)
	require.Len(t, out.Partitions, 3)
	for i, want := range []string{"2026-11-01T06:00:00Z", "2026-11-02T06:00:00Z", "2026-11-03T06:00:00Z"} {
		require.Equal(t, want, out.Partitions[i].Scheduled.UTC().Format("2006-01-02T15:04:05Z"))
	}
	require.Equal(t, "succeeded", out.Partitions[0].Outcome)
	require.Equal(t, "succeeded", out.Partitions[0].Run.Status)
	require.EqualValues(t, e2eRows, out.Partitions[0].Run.Rows)
	require.Equal(t, "skipped: already succeeded", out.Partitions[1].Outcome)
	require.Equal(t, first.ID, out.Partitions[1].Run.ID, "a skipped partition shows the run that succeeded")
}

func TestValidateJSONOutput(t *testing.T) {
	t.Parallel()
	code, stdout, _ := exec(t, context.Background(), "validate", "--config", "testdata/invalid.yaml", "-o", "json")
	require.Equal(t, exitFailed, code)
	var bad validateOut
	require.NoError(t, json.Unmarshal([]byte(stdout), &bad), stdout)
	require.False(t, bad.Valid)
	lines := map[int]validateProblem{}
	for _, p := range bad.Problems {
		require.Equal(t, "testdata/invalid.yaml", p.File)
		lines[p.Line] = p
	}
	for _, l := range []int{4, 10, 11, 15} {
		require.Contains(t, lines, l)
	}
	require.Equal(t, "orders_daily", lines[10].Job)
	require.Contains(t, lines[10].Message, "61")

	f := newFixture(t, `  - {name: daily, schedule: '0 6 * * *', timezone: Europe/Berlin, source: {look_id: "42"}, format: csv, destination: '$DIR/d.csv'}
  - {name: on_etl, trigger: {datagroup: thelook::orders_etl}, source: {look_id: "42"}, format: csv, destination: '$DIR/e.csv'}
`)
	code, stdout, stderr := exec(t, context.Background(), "validate", "--config", f.conf, "-o", "json")
	require.Equal(t, exitOK, code, stderr)
	var good validateOut
	require.NoError(t, json.Unmarshal([]byte(stdout), &good), stdout)
	require.True(t, good.Valid)
	require.Empty(t, good.Problems)
	require.Len(t, good.Jobs, 2)
	require.Equal(t, "daily", good.Jobs[0].Name)
	require.Equal(t, "Europe/Berlin", good.Jobs[0].Timezone)
	require.NotNil(t, good.Jobs[0].NextRun)
	require.Equal(t, 6, good.Jobs[0].NextRun.In(mustLoc(t, "Europe/Berlin")).Hour())
	require.Equal(t, "look 42", good.Jobs[0].Source)
	require.Nil(t, good.Jobs[1].NextRun, "a datagroup job has no next fire time")
}

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	require.NoError(t, err)
	return loc
}

// TestCompletionOffersJobNames: shell completion (cobra's hidden
// __complete, which `exporter completion bash|zsh|fish` scripts call)
// offers the --config's job names for the commands that take one.
func TestCompletionOffersJobNames(t *testing.T) {
	t.Parallel()
	f := newFixture(t, `  - {name: orders_daily, schedule: '@daily', source: {look_id: "42"}, format: csv, destination: '$DIR/a.csv'}
  - {name: orders_hourly, schedule: '@hourly', source: {look_id: "42"}, format: csv, destination: '$DIR/b.csv'}
  - {name: users, schedule: '@daily', source: {look_id: "42"}, format: csv, destination: '$DIR/c.csv'}
`)
	complete := func(args ...string) []string {
		t.Helper()
		code, stdout, stderr := exec(t, context.Background(), append([]string{"__complete"}, args...)...)
		require.Equal(t, exitOK, code, stderr)
		lines := strings.Split(strings.TrimSpace(stdout), "\n")
		require.Equal(t, ":4", lines[len(lines)-1], "no file completion") // ShellCompDirectiveNoFileComp
		return lines[:len(lines)-1]
	}
	for _, cmd := range []string{"run", "backfill", "history", "check"} {
		require.Equal(t, []string{"orders_daily", "orders_hourly", "users"}, complete(cmd, "--config", f.conf, ""), cmd)
		require.Equal(t, []string{"orders_daily", "orders_hourly"}, complete(cmd, "--config", f.conf, "ord"), cmd)
	}
	require.Empty(t, complete("run", "--config", f.conf, "users", ""), "run takes one job")
	require.Equal(t, []string{"orders_daily", "orders_hourly"}, complete("check", "--config", f.conf, "users", ""))
	require.Empty(t, complete("run", ""), "no --config, no names")

	// A config that does not load in this shell (its secret's variable is
	// unset) still offers its job names.
	unset := filepath.Join(f.dir, "unset.yaml")
	require.NoError(t, os.WriteFile(unset, []byte("looker: {client_secret: '${EXPORTER_TEST_UNSET_SECRET}'}\njobs:\n  - {name: nightly}\n  - {name: weekly}\n"), 0o600))
	require.Equal(t, []string{"nightly", "weekly"}, complete("run", "--config", unset, ""))

	code, stdout, _ := exec(t, context.Background(), "completion", "bash")
	require.Equal(t, exitOK, code)
	require.Contains(t, stdout, "__start_exporter")
}
