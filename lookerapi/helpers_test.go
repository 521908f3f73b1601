package lookerapi_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/lookerexport/exporter/lookerapi"
	"github.com/lookerexport/exporter/lookerapi/lookertest"
)

// fakeClock is a manual lookerapi.Clock: time moves only on Advance, and
// when a timer shorter than autoFire is armed: such a timer (the client's
// retry backoff and query task polling; request timeouts are longer) moves
// the clock forward by its duration and fires at once, and its duration is
// recorded in waits.
type fakeClock struct {
	mu       sync.Mutex
	now      time.Time
	timers   []*fakeTimer
	autoFire time.Duration
	waits    []time.Duration
}

type fakeTimer struct {
	c    *fakeClock
	at   time.Time
	f    func()
	done bool // fired or stopped
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) lookerapi.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d < c.autoFire {
		c.now = c.now.Add(d)
		c.waits = append(c.waits, d)
		go f()
		return &fakeTimer{c: c, done: true}
	}
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if t.done {
		return false
	}
	t.done = true
	return true
}

// Waits returns the durations of the auto-fired timers so far.
func (c *fakeClock) Waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.waits...)
}

// Advance moves time forward and runs the timers that came due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []func()
	for _, t := range c.timers {
		if !t.done && !t.at.After(c.now) {
			t.done = true
			due = append(due, t.f)
		}
	}
	c.mu.Unlock()
	for _, f := range due {
		f()
	}
}

// fixture is a server, a client logged to both the test log and an
// observer, and the client's fake clock.
type fixture struct {
	srv    *lookertest.Server
	client *lookerapi.Client
	clock  *fakeClock
	logs   *observer.ObservedLogs
	log    *zap.Logger
}

type setupOpts struct {
	server  lookertest.Options
	timeout time.Duration
}

func setup(t *testing.T, o setupOpts) *fixture {
	t.Helper()
	srv := lookertest.NewServer(o.server)
	t.Cleanup(srv.Close)
	core, logs := observer.New(zapcore.DebugLevel)
	log := zap.New(zapcore.NewTee(zaptest.NewLogger(t).Core(), core))
	f := &fixture{srv: srv, clock: newFakeClock(), logs: logs, log: log}
	f.clock.autoFire = lookerapi.DefaultTimeout
	if o.timeout > 0 {
		f.clock.autoFire = o.timeout
	}
	f.client = f.newClient(t, srv.ClientSecret(), o.timeout)
	t.Cleanup(func() { requireNoSecrets(t, f.srv, f.logs, nil) })
	return f
}

func (f *fixture) newClient(t *testing.T, secret string, timeout time.Duration) *lookerapi.Client {
	t.Helper()
	c, err := lookerapi.New(lookerapi.Config{
		BaseURL:      f.srv.URL(),
		ClientID:     f.srv.ClientID(),
		ClientSecret: secret,
		Timeout:      timeout,
		VerifySSL:    true,
	}, f.log, lookerapi.WithClock(f.clock))
	require.NoError(t, err)
	return c
}

// requireNoSecrets checks that no log entry, log field or error string holds
// the client secret or any token the server issued.
func requireNoSecrets(t *testing.T, srv *lookertest.Server, logs *observer.ObservedLogs, errs []string) {
	t.Helper()
	secrets := append([]string{srv.ClientSecret()}, srv.Tokens()...)
	var texts []string
	texts = append(texts, errs...)
	enc := zapcore.NewJSONEncoder(zap.NewDevelopmentEncoderConfig())
	for _, e := range logs.All() {
		buf, err := enc.EncodeEntry(e.Entry, e.Context)
		require.NoError(t, err)
		texts = append(texts, buf.String())
		buf.Free()
	}
	for _, s := range secrets {
		require.NotEmpty(t, s)
		for _, txt := range texts {
			require.NotContains(t, txt, s, "a secret leaked")
		}
	}
}

// readAll reads and closes a result body.
func readAll(t *testing.T, res *lookerapi.Result) []byte {
	t.Helper()
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return b
}

func isNumeric(f lookertest.Field) bool {
	switch f.Type {
	case "number", "count", "sum":
		return true
	}
	return false
}

// checkCSV compares a csv body with the expected fields and rows value by
// value.
func checkCSV(t *testing.T, body []byte, fields []lookertest.Field, rows int) {
	t.Helper()
	r := csv.NewReader(bytes.NewReader(body))
	recs, err := r.ReadAll()
	require.NoError(t, err)
	require.Len(t, recs, rows+1, "header plus rows")
	labels := make([]string, len(fields))
	for i, f := range fields {
		labels[i] = f.Label
	}
	require.Equal(t, labels, recs[0])
	for row := 0; row < rows; row++ {
		for i, f := range fields {
			want, _ := lookertest.Value(f.Name, row)
			require.Equal(t, want, recs[row+1][i], "row %d field %s", row, f.Name)
		}
	}
}

// checkJSONRows compares JSON row objects with the expected values.
func checkJSONRows(t *testing.T, objs []map[string]json.RawMessage, fields []lookertest.Field, rows int) {
	t.Helper()
	require.Len(t, objs, rows)
	for row, obj := range objs {
		require.Len(t, obj, len(fields))
		for _, f := range fields {
			raw, ok := obj[f.Name]
			require.True(t, ok, "row %d has no key %s", row, f.Name)
			want, null := lookertest.Value(f.Name, row)
			switch {
			case null:
				require.Equal(t, "null", string(raw), "row %d field %s", row, f.Name)
			case isNumeric(f):
				require.Equal(t, want, string(raw), "row %d field %s is a JSON number", row, f.Name)
			default:
				var got string
				require.NoError(t, json.Unmarshal(raw, &got), "row %d field %s is a JSON string", row, f.Name)
				require.Equal(t, want, got, "row %d field %s", row, f.Name)
			}
		}
	}
}

// checkJSONKeyOrder checks that the first row object lists its keys in
// field order.
func checkJSONKeyOrder(t *testing.T, rowsJSON []byte, fields []lookertest.Field) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(rowsJSON))
	tok, err := dec.Token() // [
	require.NoError(t, err)
	require.Equal(t, json.Delim('['), tok)
	tok, err = dec.Token() // {
	require.NoError(t, err)
	require.Equal(t, json.Delim('{'), tok)
	for _, f := range fields {
		key, err := dec.Token()
		require.NoError(t, err)
		require.Equal(t, f.Name, key)
		var v json.RawMessage
		require.NoError(t, dec.Decode(&v))
	}
}

func checkJSON(t *testing.T, body []byte, fields []lookertest.Field, rows int) {
	t.Helper()
	var objs []map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(body, &objs))
	checkJSONRows(t, objs, fields, rows)
	if rows > 0 {
		checkJSONKeyOrder(t, body, fields)
	}
}

func checkJSONBI(t *testing.T, body []byte, fields []lookertest.Field, rows int) {
	t.Helper()
	require.True(t, bytes.HasPrefix(body, []byte(`{"metadata":`)), "metadata comes first")
	var bi struct {
		Metadata map[string]json.RawMessage `json:"metadata"`
		Rows     []map[string]json.RawMessage
	}
	require.NoError(t, json.Unmarshal(body, &bi))
	for _, k := range []string{"big_query_metadata", "fields", "pivots", "has_subtotals", "has_totals",
		"columns_truncated", "filter_expression", "filters", "sql"} {
		require.Contains(t, bi.Metadata, k)
	}
	var mf struct {
		Dimensions        []struct{ Name, Type, Label, Category string }
		Measures          []struct{ Name, Type, Label, Category string }
		Pivots            []json.RawMessage
		TableCalculations []json.RawMessage `json:"table_calculations"`
	}
	require.NoError(t, json.Unmarshal(bi.Metadata["fields"], &mf))
	var dims, measures []lookertest.Field
	for _, f := range fields {
		if f.Category == "measure" {
			measures = append(measures, f)
		} else {
			dims = append(dims, f)
		}
	}
	require.Len(t, mf.Dimensions, len(dims))
	for i, d := range dims {
		require.Equal(t, d.Name, mf.Dimensions[i].Name)
		require.Equal(t, d.Type, mf.Dimensions[i].Type)
		require.Equal(t, d.Label, mf.Dimensions[i].Label)
	}
	require.Len(t, mf.Measures, len(measures))
	for i, m := range measures {
		require.Equal(t, m.Name, mf.Measures[i].Name)
		require.Equal(t, m.Type, mf.Measures[i].Type)
	}
	require.NotNil(t, mf.Pivots)
	require.NotNil(t, mf.TableCalculations)
	checkJSONRows(t, bi.Rows, fields, rows)
	if rows > 0 {
		i := bytes.Index(body, []byte(`"rows":`))
		require.Positive(t, i)
		checkJSONKeyOrder(t, body[i+len(`"rows":`):], fields)
	}
}

func checkBody(t *testing.T, format string, body []byte, fields []lookertest.Field, rows int) {
	t.Helper()
	switch format {
	case "csv":
		checkCSV(t, body, fields, rows)
	case "json":
		checkJSON(t, body, fields, rows)
	case "json_bi":
		checkJSONBI(t, body, fields, rows)
	default:
		t.Fatalf("no checker for %s", format)
	}
}

func countLines(b []byte) int { return strings.Count(string(b), "\n") }

// newHTTPServer starts an httptest server for h and returns its URL.
func newHTTPServer(t *testing.T, h http.Handler) string {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s.URL
}

// rowIDs are the orders.id values of the sample rows (0..rows-1) keep
// selects, in order.
func rowIDs(rows int, keep func(row int) bool) []float64 {
	var ids []float64
	for r := 0; r < rows; r++ {
		if keep(r) {
			ids = append(ids, float64(r+1))
		}
	}
	return ids
}

// jsonIDs reads a json result and returns its orders.id values, in order.
func jsonIDs(t *testing.T, res *lookerapi.Result) []float64 {
	t.Helper()
	var got []map[string]any
	require.NoError(t, json.Unmarshal(readAll(t, res), &got))
	ids := make([]float64, len(got))
	for i, g := range got {
		ids[i] = g["orders.id"].(float64)
	}
	return ids
}
