package jobs_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/jobs/config"
	"github.com/lookerexport/exporter/lookerapi"
	"github.com/lookerexport/exporter/lookerapi/lookertest"
	"github.com/lookerexport/exporter/sinks"
	"github.com/lookerexport/exporter/sinks/gcs"
	"github.com/lookerexport/exporter/sinks/localfs"
	"github.com/lookerexport/exporter/state"
	"github.com/lookerexport/exporter/state/sqlite"
)

const bucket = "exports"

// bundle is a fresh set of real parts: the Looker sandbox, a real client,
// a SQLite store, the local sink and GCS on fake-gcs-server.
type bundle struct {
	srv    *lookertest.Server
	client *lookerapi.Client
	store  state.Store
	gcs    *fakestorage.Server
	dir    string
	runner *jobs.Runner
	log    *zap.Logger
}

func setup(t testing.TB, rows int) *bundle {
	t.Helper()
	return setupWith(t, lookertest.Options{Rows: rows})
}

// setupWith is setup with a sandbox of the given options.
func setupWith(t testing.TB, opts lookertest.Options) *bundle {
	t.Helper()
	srv := lookertest.NewServer(opts)
	t.Cleanup(srv.Close)
	log := testLogger(t)
	client, err := lookerapi.New(lookerapi.Config{BaseURL: srv.URL(), ClientID: srv.ClientID(), ClientSecret: srv.ClientSecret(), VerifySSL: true}, log)
	require.NoError(t, err)
	t.Cleanup(func() { client.Close(context.Background()) })
	dir := t.TempDir()
	store, err := sqlite.Open(context.Background(), filepath.Join(dir, "state.db"))
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	fake, err := fakestorage.NewServerWithOptions(fakestorage.Options{NoListener: true})
	require.NoError(t, err)
	t.Cleanup(fake.Stop)
	fake.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: bucket})
	gsink := gcs.New(fake.Client(), log, gcs.Options{})
	b := &bundle{srv: srv, client: client, store: store, gcs: fake, dir: filepath.Join(dir, "out"), log: log}
	b.runner = &jobs.Runner{
		Looker: client,
		Sinks:  jobs.SinkForScheme(func(context.Context) (sinks.Sink, error) { return gsink, nil }, localfs.New(log)),
		Store:  store,
		Log:    log,
	}
	return b
}

// testLogger logs to the test, or nowhere in a benchmark, whose log would
// be kept in memory and printed.
func testLogger(t testing.TB) *zap.Logger {
	if _, ok := t.(*testing.B); ok {
		return zap.NewNop()
	}
	return zaptest.NewLogger(t)
}

// run makes one attempt of job at scheduled through the one door (a
// Trigger with its defaults, NoRetry), as Run now does.
func (b *bundle) run(ctx context.Context, job *config.Job, scheduled time.Time, opts jobs.RunOptions) (state.Run, error) {
	return (&jobs.Trigger{Runner: b.runner}).Run(ctx, job, scheduled, jobs.TriggerOptions{RunOptions: opts, NoRetry: true})
}

// job builds a validated job through the config loader, as users write it.
func (b *bundle) job(t testing.TB, name, keys string) *config.Job {
	t.Helper()
	return b.parseJob(t, "defaults: {schedule: '* * * * *'}\n", name, keys)
}

// parseJob is job with the given top-level keys (e.g. defaults) instead.
func (b *bundle) parseJob(t testing.TB, top, name, keys string) *config.Job {
	t.Helper()
	y := fmt.Sprintf("looker: {base_url: %s, client_id: x, client_secret: y}\n%sjobs:\n  - name: %s\n%s\n",
		b.srv.URL(), top, name, indent(strings.ReplaceAll(keys, "$DIR", b.dir)))
	cfg, err := config.Parse("test.yaml", []byte(y), config.Options{LookupEnv: func(string) (string, bool) { return "", false }})
	require.NoError(t, err)
	return cfg.Jobs[0]
}

func indent(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i, l := range lines {
		lines[i] = "    " + l
	}
	return strings.Join(lines, "\n")
}

// localFiles lists every file under the output dir, temp files included.
func (b *bundle) localFiles(t *testing.T) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(b.dir, func(p string, info os.FileInfo, err error) error {
		if os.IsNotExist(err) {
			return nil
		}
		if err == nil && !info.IsDir() {
			out = append(out, p)
		}
		return err
	})
	require.NoError(t, err)
	return out
}

func (b *bundle) objects(t *testing.T) []string {
	t.Helper()
	objs, _, err := b.gcs.ListObjectsWithOptions(bucket, fakestorage.ListOptions{})
	require.NoError(t, err)
	var out []string
	for _, o := range objs {
		out = append(out, o.Name)
	}
	return out
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// queryRuns counts the runs Looker received for Looks and saved queries:
// a Look whose query has no query_timezone runs as its query pinned to
// Looker's default zone (run_query), one with a zone as itself (run_look).
func queryRuns(srv *lookertest.Server) int {
	return srv.Requests("run_look") + srv.Requests("run_query")
}

// callsCounted is a store that counts some of the calls a run makes of it.
type callsCounted struct {
	state.Store
	lastSuccesses atomic.Int64 // LastSuccess calls
	gets          atomic.Int64 // GetRun calls
	logSaves      atomic.Int64 // SaveRunLog calls
}

func (c *callsCounted) SaveRunLog(ctx context.Context, id string, lines []state.LogLine) error {
	c.logSaves.Add(1)
	return c.Store.SaveRunLog(ctx, id, lines)
}

func (c *callsCounted) LastSuccess(ctx context.Context, job string) (state.Run, error) {
	c.lastSuccesses.Add(1)
	return c.Store.LastSuccess(ctx, job)
}

func (c *callsCounted) GetRun(ctx context.Context, id string) (state.Run, error) {
	c.gets.Add(1)
	return c.Store.GetRun(ctx, id)
}
