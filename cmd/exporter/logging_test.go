package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/lookerapi/lookertest"
	"github.com/lookerexport/exporter/state"
	"github.com/lookerexport/exporter/state/sqlite"
)

// The tests of issue 13, requirement 4 (logs that fit Google Cloud) and the
// terminal-escape part of requirement 9.

// jsonLines decodes every line of out as a JSON object.
func jsonLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "exporter: ") { // Main's error line
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m), "line %q", sc.Text())
		lines = append(lines, m)
	}
	require.NotEmpty(t, lines, "no log lines in %q", out)
	return lines
}

// TestGCPLogFormatRun: the lines of a real `exporter run --log-format gcp`,
// one that succeeds and one that fails, carry severity, message, time, and
// the job and run id as Cloud Logging labels.
func TestGCPLogFormatRun(t *testing.T) {
	t.Parallel()
	f := newFixture(t, runRetryJobYAML)
	ctx := context.Background()
	code, stdout, stderr := exec(t, ctx, "run", "--config", f.conf, "orders", "--at", "2026-11-27T06:00:00Z", "--log-format", "gcp")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	f.srv.FailNext(lookertest.Fault{Status: http.StatusNotFound, PathPrefix: "/looks/"})
	code, _, stderr2 := exec(t, ctx, "run", "--config", f.conf, "orders", "--at", "2026-11-28T06:00:00Z", "--log-format", "gcp", "--no-retry")
	require.Equal(t, exitFailed, code, stderr2)

	runs := f.runs(t)
	ids := map[string]bool{}
	for _, r := range runs {
		ids[r.ID] = true
	}
	severities := map[string]bool{}
	labelled := 0
	for _, l := range jsonLines(t, stderr+stderr2) {
		sev, _ := l["severity"].(string)
		require.Contains(t, []string{"DEBUG", "INFO", "WARNING", "ERROR"}, sev, l)
		severities[sev] = true
		require.NotEmpty(t, l["message"], l)
		ts, _ := l["time"].(string)
		_, err := time.Parse(time.RFC3339Nano, ts)
		require.NoError(t, err, l)
		require.NotContains(t, l, "level", l)
		require.NotContains(t, l, "run_id", "run_id belongs in the labels: %v", l)
		if labels, ok := l[gcpLabelsKey].(map[string]any); ok {
			require.Equal(t, "orders", labels["job"], l)
			require.True(t, ids[labels["run_id"].(string)], "run_id %v is not a recorded run", labels["run_id"])
			labelled++
		}
	}
	require.True(t, severities["INFO"], severities)
	src := jsonLines(t, stderr)[0][gcpSourceLocationKey].(map[string]any)
	require.Regexp(t, `^jobs/runner\.go$`, src["file"])
	require.Regexp(t, `^[1-9][0-9]*$`, src["line"])
	require.Contains(t, src["function"], "jobs.(*Runner)")
	require.True(t, severities["ERROR"] || severities["WARNING"], "the failed run logs at WARNING or ERROR: %v", severities)
	require.GreaterOrEqual(t, labelled, 4, "a run's lines carry the labels")
}

// TestGCPSeverities maps every zap level onto Cloud Logging's severity, and
// keeps job and run_id labels given to With and to the call.
func TestGCPSeverities(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := zap.New(newGCPCore(zapcore.AddSync(&buf), zapcore.DebugLevel)).With(zap.String("job", "j"))
	log.Debug("d")
	log.With(zap.String("run_id", "r1")).Info("i", zap.Int("rows", 3))
	log.Warn("w", zap.String("run_id", "r2"))
	log.Error("e")
	log.DPanic("c")
	lines := jsonLines(t, buf.String())
	want := []struct{ sev, msg, runID string }{{"DEBUG", "d", ""}, {"INFO", "i", "r1"}, {"WARNING", "w", "r2"}, {"ERROR", "e", ""}, {"CRITICAL", "c", ""}}
	require.Len(t, lines, len(want))
	for i, w := range want {
		require.Equal(t, w.sev, lines[i]["severity"])
		require.Equal(t, w.msg, lines[i]["message"])
		labels := lines[i][gcpLabelsKey].(map[string]any)
		require.Equal(t, "j", labels["job"])
		if w.runID != "" {
			require.Equal(t, w.runID, labels["run_id"])
		} else {
			require.NotContains(t, labels, "run_id", "a label given to one line leaks into another")
		}
	}
	require.EqualValues(t, 3, lines[1]["rows"])
}

// TestOtherFormatsKeepJobFields: json and console lines keep job and run_id
// as ordinary fields.
func TestOtherFormatsKeepJobFields(t *testing.T) {
	t.Parallel()
	f := newFixture(t, runRetryJobYAML)
	code, _, stderr := exec(t, context.Background(), "run", "--config", f.conf, "orders", "--at", "2026-11-27T06:00:00Z", "--log-format", "json")
	require.Equal(t, 0, code, stderr)
	found := false
	for _, l := range jsonLines(t, stderr) {
		require.Contains(t, l, "level")
		if l["run_id"] != nil {
			require.Equal(t, "orders", l["job"])
			found = true
		}
	}
	require.True(t, found, stderr)
	code, _, stderr = exec(t, context.Background(), "run", "--config", f.conf, "orders", "--at", "2026-11-28T06:00:00Z", "--log-format", "console")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stderr, `"job": "orders", "run_id": "`)
}

// TestConsoleTimestampsAreFull: console lines start with the date, the time
// to the millisecond and the zone (UTC).
func TestConsoleTimestampsAreFull(t *testing.T) {
	t.Parallel()
	f := newFixture(t, runRetryJobYAML)
	code, _, stderr := exec(t, context.Background(), "run", "--config", f.conf, "orders", "--at", "2026-11-27T06:00:00Z", "--log-format", "console")
	require.Equal(t, 0, code, stderr)
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	require.NotEmpty(t, lines)
	for _, l := range lines {
		require.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t(DEBUG|INFO|WARN|ERROR)\t`, l)
	}
}

// TestAutoLogFormat: auto picks gcp on Cloud Run (K_SERVICE) and on GKE
// (KUBERNETES_SERVICE_HOST and the metadata server answers), console on a
// terminal, json elsewhere.
func TestAutoLogFormat(t *testing.T) {
	t.Parallel()
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	yes := func() bool { return true }
	no := func() bool { return false }
	tests := []struct {
		tty  bool
		env  func(string) string
		gce  func() bool
		want string
	}{
		{false, env(), yes, logJSON},
		{true, env("K_SERVICE", "svc"), yes, logConsole},
		{false, env("K_SERVICE", "svc"), no, logGCP},
		{false, env("KUBERNETES_SERVICE_HOST", "10.0.0.1"), yes, logGCP},
		{false, env("KUBERNETES_SERVICE_HOST", "10.0.0.1"), no, logJSON},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, autoLogFormat(tt.tty, tt.env, tt.gce), "%+v", tt)
	}
}

// TestAutoLogFormatCloudRun: with K_SERVICE set, as on Cloud Run, a run's
// lines are in the gcp format without a flag.
func TestAutoLogFormatCloudRun(t *testing.T) {
	t.Setenv("K_SERVICE", "exporter")
	f := newFixture(t, runRetryJobYAML)
	code, _, stderr := exec(t, context.Background(), "run", "--config", f.conf, "orders", "--at", "2026-11-27T06:00:00Z")
	require.Equal(t, 0, code, stderr)
	for _, l := range jsonLines(t, stderr) {
		require.Contains(t, l, "severity")
	}
}

// TestProgressNeverInterleavesWithLogLines: log lines and progress updates
// written at once to a terminal: every log line starts at column 0 right
// after the line is cleared, and whatever follows a clear is log lines then
// at most one progress line.
func TestProgressNeverInterleavesWithLogLines(t *testing.T) {
	t.Parallel()
	screen := &syncBuffer{}
	term := &terminal{w: screen, tty: true}
	ec := zap.NewDevelopmentEncoderConfig()
	ec.EncodeTime = consoleTime
	log := zap.New(zapcore.NewCore(zapcore.NewConsoleEncoder(ec), zapcore.Lock(zapcore.AddSync(term)), zapcore.DebugLevel))
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range 200 {
				log.Info(fmt.Sprintf("logline %d-%d", g, i))
			}
		}()
		go func() {
			defer wg.Done()
			for i := range 200 {
				term.Progress(fmt.Sprintf("progress %d-%d rows", g, i))
			}
		}()
	}
	wg.Wait()
	term.Progress("")
	out := screen.String()
	require.Equal(t, 800, strings.Count(out, "logline"))
	logLine := `\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\tINFO\tlogline \d-\d+\n`
	segment := regexp.MustCompile(`^(` + logLine + `)*(progress \d-\d+ rows)?$`)
	parts := strings.Split(out, clearLine)
	require.Empty(t, parts[0])
	for _, p := range parts[1:] {
		require.Regexp(t, segment, p)
	}
}

// TestSanitize strips terminal control from outside text and keeps the rest.
func TestSanitize(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"plain unicode", "Täglich: 日本語 — ok ✓", "Täglich: 日本語 — ok ✓"},
		{"newline and tab kept", "a\n\tb", "a\n\tb"},
		{"CSI colour", "\x1b[31mred\x1b[0m error", "red error"},
		{"CSI cursor movement and erase", "ok\x1b[2J\x1b[1;1H\x1b[Kfake prompt", "okfake prompt"},
		{"OSC title with BEL", "\x1b]0;pwned\x07query failed", "query failed"},
		{"OSC hyperlink with ST", "\x1b]8;;http://evil.example\x1b\\click\x1b]8;;\x1b\\", "click"},
		{"BEL and carriage return", "ding\x07\rover", "dingover"},
		{"C1 CSI", "a\u009b31mb", "ab"},
		{"DCS", "a\x1bPq#0;2;0;0;0\x1b\\b", "ab"},
		{"two-byte escape", "a\x1bcb", "ab"},
		{"DEL and NUL", "a\x7f\x00b", "ab"},
		{"invalid UTF-8", "a\xffb", "a\uFFFDb"},
		{"trailing ESC", "a\x1b", "a"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, sanitize(tt.in), tt.name)
	}
}

// TestOutputStripsEscapes: a run whose Looker error and log lines carry
// escape sequences shows them stripped in `exporter run`, `logs` and
// `history`, in every log format.
func TestOutputStripsEscapes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, runRetryJobYAML)
	ctx := context.Background()
	evil := "Looker says \x1b]0;pwned\x07\x1b[2J\x1b[31mno\x1b[0m\r\x07"
	st, err := sqlite.Open(ctx, filepath.Join(f.dir, "state.db"))
	require.NoError(t, err)
	now := time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)
	run, err := st.StartRun(ctx, "orders", now, now)
	require.NoError(t, err)
	_, err = st.FinishRun(ctx, run.ID, state.Result{Status: state.Failed, ErrorClass: "permanent", Error: evil}, now.Add(time.Second))
	require.NoError(t, err)
	require.NoError(t, st.SaveRunLog(ctx, run.ID, []state.LogLine{{Time: now, Level: "error", Message: evil, Fields: `{"error":"` + "\\u001b[31m" + `"}`}}))
	require.NoError(t, st.Close())

	for _, args := range [][]string{{"logs", run.ID}, {"history"}, {"history", "orders"}} {
		code, stdout, stderr := exec(t, ctx, append(args, "--config", f.conf)...)
		require.Equal(t, 0, code, stderr)
		require.Contains(t, stdout, "Looker says no", args)
		require.NotRegexp(t, "[\x00-\x08\x0b-\x1f\x7f]", stdout+stderr, args)
	}
	// A run's own error, from `exporter run`: logged (the console format
	// writes messages raw) and printed by Main.
	for _, tty := range []bool{false, true} {
		screen := &syncBuffer{}
		term := &terminal{w: screen, tty: tty}
		ec := zap.NewDevelopmentEncoderConfig()
		log := zap.New(zapcore.NewCore(zapcore.NewConsoleEncoder(ec), zapcore.AddSync(term), zapcore.DebugLevel))
		log.Error(evil, zap.String("error", evil))
		require.Contains(t, screen.String(), "Looker says no")
		require.NotContains(t, strings.ReplaceAll(screen.String(), clearLine, ""), "\x1b", tty)
	}
	require.Equal(t, "exporter: Looker says no\n", mainError(t, fmt.Errorf("%s", evil)))
}

// mainError is what Main prints for a command's error err.
func mainError(t *testing.T, err error) string {
	t.Helper()
	var buf bytes.Buffer
	printError(&buf, err)
	return buf.String()
}

// TestRootHelpMentionsGCPLogs: `exporter --help` names the gcp format, with
// an example.
func TestRootHelpMentionsGCPLogs(t *testing.T) {
	t.Parallel()
	code, stdout, _ := exec(t, context.Background(), "--help")
	require.Equal(t, 0, code)
	require.Contains(t, stdout, "--log-format gcp")
	require.Contains(t, stdout, "gcp (Google Cloud Logging)")
}

// TestBackfillProgressOnATerminal: on a terminal, backfill's partitions
// rewrite the progress line, failures (their errors stripped of terminal
// control) and the last partition are printed above it on stdout, and the
// progress line is gone at the end; off a terminal every partition is a
// line on stdout.
func TestBackfillProgressOnATerminal(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	events := []jobs.BackfillEvent{
		{Scheduled: at, Done: 1, Total: 3, Outcome: "succeeded", Run: state.Run{Rows: 5, Attempt: 1}},
		{Scheduled: at.Add(time.Hour), Done: 2, Total: 3, Outcome: "failed", Err: fmt.Errorf("Looker says \x1b[2Jno")},
		{Scheduled: at.Add(2 * time.Hour), Done: 3, Total: 3, Outcome: "succeeded", Run: state.Run{Rows: 7, Attempt: 1}},
	}
	want := "[2/3] 2026-11-01T01:00:00Z failed: Looker says no\n[3/3] 2026-11-01T02:00:00Z succeeded (7 rows, attempt 1)\n"

	screen, stdout := &syncBuffer{}, &syncBuffer{}
	term := &terminal{w: screen, tty: true}
	p := backfillProgress(stdout, term, true)
	for _, ev := range events {
		p(ev)
	}
	require.Equal(t, want, stdout.String())
	require.Equal(t, clearLine+"[1/3] 2026-11-01T00:00:00Z succeeded (5 rows, attempt 1)"+clearLine+"[1/3] 2026-11-01T00:00:00Z succeeded (5 rows, attempt 1)"+clearLine+clearLine, screen.String())
	require.Empty(t, term.progress)

	stdout = &syncBuffer{}
	p = backfillProgress(stdout, &terminal{w: screen, tty: false}, false)
	for _, ev := range events {
		p(ev)
	}
	require.Equal(t, "[1/3] 2026-11-01T00:00:00Z succeeded (5 rows, attempt 1)\n"+want, stdout.String())
}

// TestLookerErrorEscapesStripped: Looker echoes a field name carrying escape
// sequences (a window title, a screen clear) in its error; `exporter run`,
// `logs` and `history` print the error without them, in every log format.
func TestLookerErrorEscapesStripped(t *testing.T) {
	t.Parallel()
	f := newFixture(t, `  - name: evil
    schedule: "@daily"
    source: {query: {model: thelook, view: orders, fields: ["orders.id", "orders.x\e]0;pwned\a\e[2J\e[31m"]}}
    format: csv
    destination: '$DIR/out/x.csv'
`)
	ctx := context.Background()
	control := "[\x00-\x08\x0b-\x1f\x7f]"
	for i, format := range []string{"console", "json", "gcp"} {
		at := time.Date(2026, 11, 27+i, 6, 0, 0, 0, time.UTC).Format(time.RFC3339)
		code, stdout, stderr := exec(t, ctx, "run", "--config", f.conf, "evil", "--at", at, "--no-retry", "--log-format", format)
		require.Equal(t, exitFailed, code, stderr)
		require.Contains(t, stderr, "exporter: 400 Unknown field(s) in explore 'orders': orders.x; inline query thelook/orders", "cause first, escapes gone")
		require.NotRegexp(t, control, stdout+stderr, format)
	}
	runs := f.runs(t)
	require.Contains(t, runs[0].Error, "\x1b]0;pwned", "the stored error keeps Looker's text; only the output strips it")
	for _, args := range [][]string{{"logs", runs[0].ID}, {"history"}, {"history", "evil"}} {
		code, stdout, stderr := exec(t, ctx, append(args, "--config", f.conf)...)
		require.Equal(t, 0, code, stderr)
		require.Contains(t, stdout, runs[0].ID, args)
		require.NotRegexp(t, control, stdout+stderr, args)
	}
	_, stdout, _ := exec(t, ctx, "logs", runs[0].ID, "--config", f.conf)
	require.Contains(t, stdout, "error (permanent): 400 Unknown field(s) in explore 'orders': orders.x; inline query")
}
