package jobs_test

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/sinks/publish"
	"github.com/lookerexport/exporter/state"
)

// destination is every file the run could have touched, local and on
// GCS, temp files included, with its bytes.
func (b *bundle) destination(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range b.localFiles(t) {
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		out[p] = string(data)
	}
	for _, name := range b.objects(t) {
		out["gs://"+bucket+"/"+name] = string(b.readBack(t, "gs://"+bucket+"/"+name))
	}
	return out
}

// manifestOf reads the manifest next to a run's files.
func (b *bundle) manifestOf(t *testing.T, run state.Run) publish.Manifest {
	t.Helper()
	require.NotEmpty(t, run.URIs)
	dir := run.URIs[0][:strings.LastIndex(run.URIs[0], "/")+1]
	var m publish.Manifest
	require.NoError(t, json.Unmarshal(b.readBack(t, dir+publish.ManifestName), &m))
	return m
}

// conditionOutputs are the outputs every send condition must treat alike:
// each format, compressed or not, split or not, local and GCS. The
// destination is the same path every run, so that a run that does not
// publish would show by overwriting the last one's.
var conditionOutputs = []struct{ name, keys string }{
	{"local csv passed through", "format: csv\ndestination: '$DIR/{{ .Job }}/orders.csv'"},
	{"gcs csv gzip split", "format: csv\ncompression: gzip\nmax_rows_per_file: 4\ndestination: 'gs://" + bucket + "/{{ .Job }}/orders.csv.gz'"},
	{"local jsonl zstd split", "format: jsonl\ncompression: zstd\nmax_rows_per_file: 3\ndestination: '$DIR/{{ .Job }}/orders.jsonl.zst'"},
	{"gcs parquet", "format: parquet\ndestination: 'gs://" + bucket + "/{{ .Job }}/orders.parquet'"},
	{"local parquet split, no manifest", "format: parquet\nmax_rows_per_file: 5\nmanifest: false\ndestination: '$DIR/{{ .Job }}/orders.parquet'"},
}

// eachOutput runs f as a parallel subtest per conditionOutputs, each
// with a fresh bundle whose sandbox holds 10 rows.
func eachOutput(t *testing.T, f func(t *testing.T, b *bundle, keys string)) {
	for _, out := range conditionOutputs {
		t.Run(out.name, func(t *testing.T) {
			t.Parallel()
			f(t, setup(t, 10), out.keys)
		})
	}
}

// TestWhenChanged: the second identical run publishes nothing and is
// recorded skipped, naming the run whose content it repeats; once the
// data changes the third run publishes. The content hash is kept with each
// run and in the manifest.
func TestWhenChanged(t *testing.T) {
	t.Parallel()
	eachOutput(t, func(t *testing.T, b *bundle, keys string) {
		job := b.job(t, "orders", "source: {look_id: '42'}\nwhen: changed\n"+keys)

		first, err := b.run(t.Context(), job, scheduled, jobs.RunOptions{})
		require.NoError(t, err)
		require.Equal(t, state.Succeeded, first.Status)
		require.Regexp(t, `^sha256:[0-9a-f]{64}$`, first.ContentHash)
		if job.Output.Manifest {
			require.Equal(t, first.ContentHash, b.manifestOf(t, first).ContentHash)
		}
		published := b.destination(t)
		require.NotEmpty(t, published)

		second, err := b.run(t.Context(), job, scheduled.Add(time.Hour), jobs.RunOptions{})
		require.NoError(t, err, "a skip is not a failure")
		require.Equal(t, state.Skipped, second.Status)
		require.Equal(t, state.ClassCondition, second.ErrorClass)
		require.Equal(t, fmt.Sprintf("when: changed: same content as run %s published %s", first.ID, first.FinishedAt.UTC().Format(time.RFC3339)), second.Error)
		require.Equal(t, first.ContentHash, second.ContentHash, "the same rows hash the same")
		require.Equal(t, int64(10), second.Rows)
		require.Empty(t, second.URIs)
		require.Zero(t, second.Bytes, "nothing was published")
		require.Equal(t, published, b.destination(t), "the skipped run left the destination exactly as it was")
		require.True(t, second.Checked())

		b.srv.SetRows(11)
		third, err := b.run(t.Context(), job, scheduled.Add(2*time.Hour), jobs.RunOptions{})
		require.NoError(t, err)
		require.Equal(t, state.Succeeded, third.Status)
		require.Equal(t, int64(11), third.Rows)
		require.NotEqual(t, first.ContentHash, third.ContentHash)
		require.NotEqual(t, published, b.destination(t))
		if job.Output.Manifest {
			m := b.manifestOf(t, third)
			require.Equal(t, third.ID, m.RunID)
			require.Equal(t, third.ContentHash, m.ContentHash)
		}

		fourth, err := b.run(t.Context(), job, scheduled.Add(3*time.Hour), jobs.RunOptions{})
		require.NoError(t, err)
		require.Equal(t, state.Skipped, fourth.Status)
		require.Contains(t, fourth.Error, "same content as run "+third.ID, "the baseline is the last published run")
	})
}

// TestWhenResultsAndNoResults: results skips an empty result, no_results
// anything but one; a skip publishes nothing, in every output.
func TestWhenResultsAndNoResults(t *testing.T) {
	t.Parallel()
	cases := []struct {
		when       string
		skipRows   int // the sandbox's rows for the run that is skipped
		publish    int // and for the one that publishes
		wantReason string
	}{
		{"results", 0, 3, "when: results: the result has no rows"},
		{"no_results", 7, 0, "when: no_results: the result has 7 rows"},
	}
	for _, c := range cases {
		t.Run(c.when, func(t *testing.T) {
			t.Parallel()
			eachOutput(t, func(t *testing.T, b *bundle, keys string) {
				job := b.job(t, "orders", "source: {look_id: '42'}\nwhen: "+c.when+"\n"+keys)

				b.srv.SetRows(c.skipRows)
				run, err := b.run(t.Context(), job, scheduled, jobs.RunOptions{})
				require.NoError(t, err)
				require.Equal(t, state.Skipped, run.Status)
				require.Equal(t, state.ClassCondition, run.ErrorClass)
				require.Equal(t, c.wantReason, run.Error)
				require.Empty(t, run.URIs)
				require.Empty(t, b.destination(t), "nothing published, no temp file left")

				b.srv.SetRows(c.publish)
				run, err = b.run(t.Context(), job, scheduled.Add(time.Hour), jobs.RunOptions{})
				require.NoError(t, err)
				require.Equal(t, state.Succeeded, run.Status)
				require.Equal(t, int64(c.publish), run.Rows)
				require.NotEmpty(t, run.URIs)
				if job.Output.Manifest {
					require.Equal(t, int64(c.publish), b.manifestOf(t, run).Rows)
				}
			})
		})
	}
}

// TestMinRowsFailsAnEmptyResult: a run with fewer rows than min_rows
// fails permanently (no retry, whatever the job's retries), says what to
// do, and publishes nothing.
func TestMinRowsFailsAnEmptyResult(t *testing.T) {
	t.Parallel()
	eachOutput(t, func(t *testing.T, b *bundle, keys string) {
		job := b.job(t, "orders", "source: {look_id: '42'}\nmin_rows: 1\nretries: {max_attempts: 3, backoff: 1s}\n"+keys)
		b.srv.SetRows(0)
		run, err := (&jobs.Trigger{Runner: b.runner}).Run(t.Context(), job, scheduled, jobs.TriggerOptions{})
		require.ErrorIs(t, err, jobs.ErrTooFewRows)
		require.Equal(t, state.Failed, run.Status)
		require.Equal(t, jobs.ClassPermanent, run.ErrorClass)
		// Cause first: the job and run id are the run's columns, not a
		// prefix that truncated views (status page, history, Slack) show
		// instead of the cause.
		require.Equal(t, "too few rows: the result has 0 rows, fewer than min_rows: 1, so nothing was published; "+
			"check that the data the job reads has loaded and run it again (exporter run orders), or lower min_rows", run.Error)
		require.Equal(t, 1, run.Attempt, "not retried")
		require.Empty(t, run.URIs)
		require.Empty(t, b.destination(t), "nothing published, no temp file left")
		require.False(t, run.Checked())
	})
}

// TestConditionOrder: when: is decided before min_rows: an empty result
// of a when: results job is skipped, not failed; a short one fails.
func TestConditionOrder(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, keys string
		rows       int
		want       state.Status
		wantError  string
	}{
		{"empty result skipped before min_rows", "when: results\nmin_rows: 5", 0, state.Skipped, "when: results: the result has no rows"},
		{"short result fails min_rows", "when: results\nmin_rows: 5", 3, state.Failed, "too few rows: the result has 3 rows, fewer than min_rows: 5"},
		{"enough rows publish", "when: results\nmin_rows: 5", 5, state.Succeeded, ""},
		{"a changed result still needs min_rows", "when: changed\nmin_rows: 50", 10, state.Failed, "too few rows: the result has 10 rows, fewer than min_rows: 50"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, c.rows)
			b.srv.SetRows(c.rows)
			job := b.job(t, "orders", "source: {look_id: '42'}\nformat: csv\ndestination: '$DIR/{{ .Job }}/orders.csv'\n"+c.keys)
			run, err := b.run(t.Context(), job, scheduled, jobs.RunOptions{})
			require.Equal(t, c.want, run.Status)
			if c.want == state.Failed {
				require.ErrorIs(t, err, jobs.ErrTooFewRows)
			} else {
				require.NoError(t, err)
			}
			require.Contains(t, run.Error, c.wantError)
			require.Equal(t, c.want == state.Succeeded, len(b.destination(t)) > 0, "published only on success")
		})
	}
}

// TestContentHashIgnoresTheOutput: the content hash is of the rows Looker
// sent: outputs that read the same Looker result format hash alike
// whatever their format, compression, split, destination or manifest
// (Looker's csv and json_bi are different texts of the rows, so they hash
// apart).
func TestContentHashIgnoresTheOutput(t *testing.T) {
	t.Parallel()
	b := setup(t, 10)
	byResult := map[string]map[string]bool{} // Looker result format -> hashes
	for i, out := range conditionOutputs {
		job := b.job(t, fmt.Sprintf("orders%d", i), "source: {look_id: '42'}\n"+out.keys)
		run, err := b.run(t.Context(), job, scheduled, jobs.RunOptions{})
		require.NoError(t, err)
		rf := job.Plan.ResultFormat
		if byResult[rf] == nil {
			byResult[rf] = map[string]bool{}
		}
		byResult[rf][run.ContentHash] = true
	}
	require.Len(t, byResult, 2, "csv and json_bi")
	for rf, hashes := range byResult {
		require.Len(t, hashes, 1, "every output reading Looker %s hashes alike", rf)
	}
}
