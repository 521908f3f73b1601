package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/state"
)

var scheduled = time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)

func TestRunSucceedsAndRecords(t *testing.T) {
	t.Parallel()
	b := setup(t, 500)
	job := b.job(t, "orders", "source: {look_id: '42'}\nformat: csv\ndestination: '$DIR/{{ .Job }}/{{ date \"2006-01-02\" }}/{{ .Attempt }}.csv'")
	run, err := b.run(context.Background(), job, scheduled, jobs.RunOptions{})
	require.NoError(t, err)
	path := filepath.Join(b.dir, "orders", "2026-11-27", "1.csv")
	require.Equal(t, state.Succeeded, run.Status)
	require.Equal(t, int64(500), run.Rows)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, fi.Size(), run.Bytes)
	require.Equal(t, []string{"file://" + path}, run.URIs)
	require.True(t, run.ScheduledTime.Equal(scheduled))
	require.Empty(t, run.Error)

	// A second run of the same key is attempt 2 and names its own file.
	run2, err := b.run(context.Background(), job, scheduled, jobs.RunOptions{})
	require.NoError(t, err)
	require.Equal(t, 2, run2.Attempt)
	require.Equal(t, []string{"file://" + filepath.Join(b.dir, "orders", "2026-11-27", "2.csv")}, run2.URIs)
}

// A run's outcome is recorded in one call: FinishRun stores the run's log
// with it and returns the run as recorded, which the runner reports
// without reading it back (each a round trip to the store per run, which
// a burst of runs pays a thousand times).
func TestRunRecordsItsOutcomeInOneCall(t *testing.T) {
	t.Parallel()
	b := setup(t, 5)
	store := &callsCounted{Store: b.store}
	b.runner.Store = store
	job := b.job(t, "orders", "source: {look_id: '42'}\nformat: csv\ndestination: '$DIR/{{ .RunID }}.csv'")
	run, err := b.run(context.Background(), job, scheduled, jobs.RunOptions{})
	require.NoError(t, err)
	require.Zero(t, store.gets.Load(), "the run was not read back")
	require.Zero(t, store.logSaves.Load(), "the run's log was saved with its outcome, not by a call of its own")
	got, err := b.store.GetRun(context.Background(), run.ID)
	require.NoError(t, err)
	require.Equal(t, got, run, "the run returned is the run recorded")
	lines, err := b.store.RunLog(context.Background(), run.ID)
	require.NoError(t, err)
	require.NotEmpty(t, lines)
	last := lines[len(lines)-1]
	require.Equal(t, "run succeeded", last.Message, "the stored log ends with the outcome")
	require.Contains(t, last.Fields, `"duration":`)
}

// TestFailedRunPublishesNothing injects a connection drop mid-stream and a
// context cancel mid-stream, for each sink and several formats: the
// destination stays empty (no partial file, no temp file, no object) and
// the run is recorded as failed with the reason.
func TestFailedRunPublishesNothing(t *testing.T) {
	t.Parallel()
	dests := map[string]string{
		"local": "$DIR/{{ .Job }}/data.%s",
		"gcs":   "gs://" + bucket + "/{{ .Job }}/data.%s",
	}
	formats := map[string]string{
		"csv":     "format: csv",
		"csv.gz":  "format: csv\ncompression: gzip",
		"jsonl":   "format: jsonl",
		"parquet": "format: parquet",
	}
	for sinkName, dest := range dests {
		for ext, keys := range formats {
			for _, fault := range []string{"drop", "cancel"} {
				t.Run(fmt.Sprintf("%s/%s/%s", sinkName, ext, fault), func(t *testing.T) {
					t.Parallel()
					rows := 5000
					if fault == "cancel" {
						rows = 2_000_000 // long enough to cancel while streaming
					}
					b := setup(t, rows)
					job := b.job(t, "orders", fmt.Sprintf("source: {look_id: '42'}\n%s\ndestination: '%s'", keys, fmt.Sprintf(dest, ext)))
					ctx, cancel := context.WithCancelCause(context.Background())
					defer cancel(nil)
					p := &jobs.Progress{}
					if fault == "drop" {
						b.srv.DropNextRun(1234)
					} else {
						go func() {
							eventually(t, "rows to stream", func() bool { return p.Rows.Load() > 0 })
							cancel(errors.New("operator pressed ctrl-c"))
						}()
					}
					run, err := b.run(ctx, job, scheduled, jobs.RunOptions{Progress: p})
					require.Error(t, err)
					require.Equal(t, state.Failed, run.Status)
					require.NotZero(t, run.FinishedAt)
					require.Empty(t, run.URIs)
					if fault == "drop" {
						require.ErrorIs(t, err, io.ErrUnexpectedEOF)
						require.Equal(t, jobs.ClassRetryable, run.ErrorClass)
						// Cause first: Looker's error leads, the context
						// (where in the result) follows.
						require.Regexp(t, `^reading the response body: unexpected EOF; look 42: run_query GET /api/4.0/queries/\d+/run/\S+ \(read result: read looker \S+ body at row \d+\)$`, run.Error)
					} else {
						require.Equal(t, jobs.ClassCancelled, run.ErrorClass)
						require.Contains(t, run.Error, "operator pressed ctrl-c")
						require.Less(t, run.Rows, int64(rows))
					}
					// Cause first: the run's id is its column (and the log's
					// run_id field), not a prefix hiding the cause in
					// truncated views.
					require.NotContains(t, run.Error, run.ID)
					require.NotContains(t, run.Error, "job orders")

					stored, err := b.store.GetRun(context.Background(), run.ID)
					require.NoError(t, err)
					require.Equal(t, run.Error, stored.Error)
					require.Empty(t, b.localFiles(t), "no file, not even a temp file")
					require.Empty(t, b.objects(t), "no GCS object")
				})
			}
		}
	}
}

func TestPermanentErrorsAreClassified(t *testing.T) {
	t.Parallel()
	b := setup(t, 10)
	job := b.job(t, "missing", "source: {look_id: '999'}\nformat: csv\ndestination: '$DIR/x.csv'")
	run, err := b.run(context.Background(), job, scheduled, jobs.RunOptions{})
	require.Error(t, err)
	require.Equal(t, state.Failed, run.Status)
	require.Equal(t, jobs.ClassPermanent, run.ErrorClass)
	require.Contains(t, run.Error, "404")
	require.Contains(t, run.Error, "looks/999")
	require.Empty(t, b.localFiles(t))
}

func TestTimeoutFailsTheRun(t *testing.T) {
	t.Parallel()
	b := setup(t, 10)
	job := b.job(t, "slow", "source: {look_id: '42'}\nformat: csv\ntimeout: 50ms\ndestination: '$DIR/x.csv'")
	release := make(chan struct{})
	defer close(release)
	b.srv.StallNextRun(release, true)
	run, err := b.run(context.Background(), job, scheduled, jobs.RunOptions{})
	require.Error(t, err)
	require.Equal(t, state.Failed, run.Status)
	require.Equal(t, jobs.ClassCancelled, run.ErrorClass)
	require.Contains(t, run.Error, "timed out after 50ms")
	require.Empty(t, b.localFiles(t))
}

type recorder struct {
	started, finished chan state.Run
}

func (r *recorder) RunStarted(run state.Run)             { r.started <- run }
func (r *recorder) RunFinished(run state.Run, err error) { r.finished <- run }

func TestObserversAndInFlight(t *testing.T) {
	t.Parallel()
	b := setup(t, 30)
	rec := &recorder{started: make(chan state.Run, 1), finished: make(chan state.Run, 1)}
	b.runner.Observers = []jobs.Observer{rec}
	job := b.job(t, "orders", "source: {look_id: '42'}\nformat: csv\ndestination: '$DIR/x.csv'")
	release := make(chan struct{})
	arrived := b.srv.StallNextRun(release, true)
	done := make(chan error, 1)
	go func() {
		_, err := b.run(context.Background(), job, scheduled, jobs.RunOptions{})
		done <- err
	}()
	started := <-rec.started
	require.Equal(t, state.Running, started.Status)
	<-arrived
	inflight := b.runner.InFlight()
	require.Len(t, inflight, 1)
	require.Equal(t, started.ID, inflight[0].Run.ID)
	close(release)
	require.NoError(t, <-done)
	finished := <-rec.finished
	require.Equal(t, started.ID, finished.ID)
	require.Equal(t, state.Succeeded, finished.Status)
	require.Equal(t, int64(30), finished.Rows)
	require.Empty(t, b.runner.InFlight())
}
