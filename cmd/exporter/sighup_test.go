//go:build linux

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	execpkg "os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/jobs/web"
	"github.com/lookerexport/exporter/lookerapi/lookertest"
)

// reloadChildEnv makes TestReloadChild act as the child of
// TestSIGHUPOfPathologicalConfigsLeavesTheDaemonServing; its value is the
// config file.
const reloadChildEnv = "EXPORTER_RELOAD_CHILD_CONF"

// TestReloadChild is not a test: the SIGHUP test runs the test binary
// again to get `exporter serve` as main runs it (signals included) in a
// process it can send SIGHUP to, and a parser crash cannot take down.
func TestReloadChild(t *testing.T) {
	conf := os.Getenv(reloadChildEnv)
	if conf == "" {
		t.Skip("helper process for TestSIGHUPOfPathologicalConfigsLeavesTheDaemonServing; runs only as its child")
	}
	os.Exit(mainWithSignals([]string{"serve", "--config", conf, "--log-format", "json", "--drain-timeout", "10s"}, os.Stdout, os.Stderr))
}

// reloadDaemon is the parent's handle on TestReloadChild.
type reloadDaemon struct {
	cmd    *execpkg.Cmd
	conf   string
	base   string
	token  string
	logs   *syncBuffer   // the child's stderr: JSON log lines
	exited chan struct{} // closed when the child has exited, with err set
	err    error
}

// startReloadDaemon starts the child on conf, whose server.listen is
// 127.0.0.1:0, and finds its address in its log.
func startReloadDaemon(t *testing.T, conf, token string) *reloadDaemon {
	t.Helper()
	d := &reloadDaemon{conf: conf, token: token, logs: &syncBuffer{}, exited: make(chan struct{})}
	d.cmd = execpkg.Command(os.Args[0], "-test.run=^TestReloadChild$", "-test.count=1")
	d.cmd.Env = append(os.Environ(), reloadChildEnv+"="+conf)
	stderr, err := d.cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, d.cmd.Start())
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			_, _ = d.logs.Write(append(sc.Bytes(), '\n'))
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	go func() { <-copied; d.err = d.cmd.Wait(); close(d.exited) }()
	t.Cleanup(func() {
		_ = d.cmd.Process.Kill()
		<-d.exited
		if t.Failed() {
			t.Logf("daemon log:\n%s", tail(d.logs.String(), 8000))
		}
	})
	e := d.waitLog(t, "status server listening", 1)
	d.base = fmt.Sprint("http://", e["addr"])
	return d
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// logLines returns the child's log entries whose message is msg.
func (d *reloadDaemon) logLines(t *testing.T, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(d.logs.String(), "\n") {
		var e map[string]any
		if json.Unmarshal([]byte(line), &e) == nil && e["msg"] == msg {
			out = append(out, e)
		}
	}
	return out
}

// waitLog waits, with a deadline, for the n-th log entry with message msg
// and returns it; the daemon must still be running.
func (d *reloadDaemon) waitLog(t *testing.T, msg string, n int) map[string]any {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		if got := d.logLines(t, msg); len(got) >= n {
			return got[n-1]
		}
		select {
		case <-d.exited:
			t.Fatalf("the daemon exited (%v) before logging %q #%d", d.err, msg, n)
		default:
		}
		require.True(t, time.Now().Before(deadline), "no log %q #%d", msg, n)
		time.Sleep(20 * time.Millisecond) // polling with a deadline
	}
}

func (d *reloadDaemon) do(t *testing.T, method, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, d.base+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+d.token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err, "%s %s: the daemon must keep serving", method, path)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// replaceConfig writes data as the config file the way config management
// does (a new file renamed over the old one) and sends SIGHUP.
func (d *reloadDaemon) replaceConfig(t *testing.T, data []byte) {
	t.Helper()
	tmp := d.conf + ".new"
	require.NoError(t, os.WriteFile(tmp, data, 0o600))
	require.NoError(t, os.Rename(tmp, d.conf))
	require.NoError(t, d.cmd.Process.Signal(syscall.SIGHUP))
}

// waitScheduledRun waits for a succeeded run of job scheduled after t0,
// fired by the daemon's scheduler.
func (d *reloadDaemon) waitScheduledRun(t *testing.T, job string, after time.Time) web.RunInfo {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		code, body := d.do(t, http.MethodGet, "/api/v1/runs?job="+job)
		require.Equal(t, http.StatusOK, code, body)
		var got struct{ Runs []web.RunInfo }
		require.NoError(t, json.Unmarshal([]byte(body), &got))
		for _, r := range got.Runs {
			if r.Status == "succeeded" && r.ScheduledTime.After(after) {
				return r
			}
		}
		require.True(t, time.Now().Before(deadline), "no run of %s scheduled after %s succeeded: %s", job, after, body)
		time.Sleep(50 * time.Millisecond) // polling with a deadline
	}
}

func (d *reloadDaemon) metrics(t *testing.T) map[string]float64 {
	t.Helper()
	code, body := d.do(t, http.MethodGet, "/metrics")
	require.Equal(t, http.StatusOK, code)
	return parseMetrics(t, body)
}

func (d *reloadDaemon) jobNames(t *testing.T) []string {
	t.Helper()
	code, body := d.do(t, http.MethodGet, "/api/v1/jobs")
	require.Equal(t, http.StatusOK, code, body)
	var got struct{ Jobs []struct{ Name string } }
	require.NoError(t, json.Unmarshal([]byte(body), &got))
	var names []string
	for _, j := range got.Jobs {
		names = append(names, j.Name)
	}
	return names
}

// reloadConfigYAML is a daemon config with the given jobs; every_second
// fires each second, so a test sees the scheduler at work.
func reloadConfigYAML(looker *lookertest.Server, dir, token, jobs string) []byte {
	return fmt.Appendf(nil, `looker: {base_url: %s, client_id: %s, client_secret: %s}
state: {dsn: %s}
server: {listen: "127.0.0.1:0", token: %s}
defaults: {timezone: UTC, format: csv}
jobs:
%s`, looker.URL(), looker.ClientID(), looker.ClientSecret(), filepath.Join(dir, "state.db"), token,
		strings.ReplaceAll(jobs, "$DIR", dir))
}

const (
	everySecondJob = `  - name: every_second
    schedule: "@every 1s"
    source: {look_id: "42"}
    destination: $DIR/out/{{ .RunID }}.csv
`
	nightlyJob = `  - name: nightly
    schedule: "0 6 * * *"
    source: {query_id: "123"}
    destination: $DIR/nightly/{{ .RunID }}.csv
`
	morningJob = `  - name: morning
    schedule: "0 7 * * *"
    source: {query_id: "123"}
    destination: $DIR/morning/{{ .RunID }}.csv
`
)

// TestSIGHUPOfPathologicalConfigsLeavesTheDaemonServing is the bar of
// finding 6 of issue 11: `exporter serve`, sent SIGHUP after its config
// file was replaced by a 27 MB flat mapping (which overflowed the YAML
// parser's stack and killed the daemon), a 50 MB flow sequence (55 s,
// 12.6 GB), deep nesting, 8 MiB of tightly packed flow items (14 s) and
// 60,000 keys without values (minutes) or 130,000 empty jobs (12 s), keeps serving: each reload is
// rejected with a log line naming the file and the limit, and counted as
// failed; /healthz answers, the old jobs stay, and the scheduler keeps
// firing. A good config sent afterwards reaches the scheduler, the
// metrics and the status page in one reload.
func TestSIGHUPOfPathologicalConfigsLeavesTheDaemonServing(t *testing.T) {
	t.Parallel()
	looker := lookertest.NewServer(lookertest.Options{Rows: e2eRows})
	t.Cleanup(looker.Close)
	dir := t.TempDir()
	conf := filepath.Join(dir, "exporter.yaml")
	token := "tok-" + randomHex(t, 12)
	require.NoError(t, os.WriteFile(conf, reloadConfigYAML(looker, dir, token, everySecondJob+nightlyJob), 0o600))
	d := startReloadDaemon(t, conf, token)
	d.waitScheduledRun(t, "every_second", time.Time{})
	gogc := d.metrics(t)["go_gc_gogc_percent"]
	if v, set := os.LookupEnv("GOGC"); set {
		n, err := strconv.Atoi(v)
		require.NoError(t, err)
		require.Equal(t, float64(n), gogc, "the daemon's GOGC is the environment's")
	} else { // serve's, with its floor (gcFloor)
		require.GreaterOrEqual(t, gogc, float64(serveGCPercent), "the daemon's GOGC")
		require.LessOrEqual(t, gogc, float64(maxFloorPercent), "the daemon's GOGC")
		if d.metrics(t)["go_memstats_heap_alloc_bytes"] < serveGCFloor*100/serveGCPercent {
			require.Greater(t, gogc, float64(serveGCPercent), "a heap this small is kept by the floor, not the percentage")
		}
	}

	fill := func(head, item, tail string, size int) []byte {
		var b strings.Builder
		b.Grow(size)
		b.WriteString(head)
		for b.Len()+len(item)+len(tail) <= size {
			b.WriteString(item)
		}
		b.WriteString(tail)
		return []byte(b.String())
	}
	flat := func(size int) []byte { // k0: v, k1: v, ...
		var b strings.Builder
		b.Grow(size)
		for i := 0; b.Len() < size; i++ {
			fmt.Fprintf(&b, "k%d: v\n", i)
		}
		return []byte(b.String())
	}
	bad := []struct {
		name  string
		data  []byte
		limit string
	}{
		{"27 MB flat mapping", flat(27_000_000), "over the limit of 8.0 MiB"},
		{"50 MB flow sequence", fill("jobs: [", "a, ", "a]\n", 50_000_000), "over the limit of 8.0 MiB"},
		{"deep nesting", fill("jobs: ", "[", "\n", 1<<20), "nests deeper than 64 levels"},
		{"8 MiB of packed flow items", fill("jobs: [", "a,", "a]\n", 8<<20), "more than 400,000 YAML tokens"},
		{"keys without values", fill("jobs:\n", "- b:\n", "", 300_000), "empty values"},
		{"130,000 empty jobs", fill("jobs: [", "{},", "{}]\n", 390_000), "more than 12,000"},
	}
	for i, tt := range bad {
		sent := time.Now()
		d.replaceConfig(t, tt.data)
		e := d.waitLog(t, "config reload rejected; the running jobs stay as they are: fix the file and send SIGHUP again", i+1)
		require.Equal(t, conf, e["config"], tt.name)
		require.Contains(t, e["error"], conf, "%s: the error names the file", tt.name)
		require.Contains(t, e["error"], tt.limit, tt.name)
		t.Logf("%s (%d bytes): rejected in %v", tt.name, len(tt.data), time.Since(sent).Round(time.Millisecond))

		code, body := d.do(t, http.MethodGet, "/healthz")
		require.Equal(t, http.StatusOK, code, body)
		m := d.metrics(t)
		require.Equal(t, float64(i+1), m[`exporter_config_reloads_total{result="failure"}`], tt.name)
		require.Equal(t, 0.0, m[`exporter_config_last_reload_successful`], tt.name)
	}
	require.Equal(t, []string{"every_second", "nightly"}, d.jobNames(t), "the old jobs stay")
	d.waitScheduledRun(t, "every_second", time.Now())
	require.Empty(t, d.logLines(t, "config reloaded"))

	// A good config: nightly removed, morning added, in one reload.
	d.replaceConfig(t, reloadConfigYAML(looker, dir, token, everySecondJob+morningJob))
	e := d.waitLog(t, "config reloaded", 1)
	require.Equal(t, []any{"morning"}, e["added"])
	require.Equal(t, []any{"nightly"}, e["removed"])
	require.Equal(t, []string{"every_second", "morning"}, d.jobNames(t))
	code, body := d.do(t, http.MethodPost, "/api/v1/jobs/nightly/run")
	require.Equal(t, http.StatusNotFound, code, body)
	m := d.metrics(t)
	require.Equal(t, 1.0, m[`exporter_config_reloads_total{result="success"}`])
	require.Equal(t, 1.0, m[`exporter_config_last_reload_successful`])
	require.Positive(t, m[`exporter_next_run_timestamp_seconds{export_job="morning"}`])
	for k := range m {
		require.NotContains(t, k, `export_job="nightly"`, "a removed job keeps no series")
	}
	d.waitScheduledRun(t, "every_second", time.Now())

	require.NoError(t, d.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-d.exited:
		require.NoError(t, d.err, "serve exits 0 on SIGTERM")
	case <-time.After(time.Minute):
		t.Fatal("serve did not stop on SIGTERM")
	}
}
