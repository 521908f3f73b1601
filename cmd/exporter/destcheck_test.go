package main

import (
	"context"
	"testing"

	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/lookerapi/lookertest"
	"github.com/lookerexport/exporter/sinks/gcs"
)

// gcsJobs write to a bucket that exists and to one that does not.
const gcsJobs = `
  - name: to_bucket
    schedule: '0 6 * * *'
    source: {look_id: "42"}
    format: csv
    destination: 'gs://exports/orders/dt={{ date "2006-01-02" }}/orders.csv'
  - name: to_missing_bucket
    schedule: '0 6 * * *'
    source: {look_id: "42"}
    format: csv
    destination: 'gs://no-such-bucket/orders/dt={{ date "2006-01-02" }}/orders.csv'
`

// TestMissingBucket: `exporter check` reports a job whose bucket does
// not exist (and passes the one whose bucket does, and the local ones),
// and `exporter run` of it fails permanently before Looker sees a query.
// GCS is fake-gcs-server reached as an emulator (STORAGE_EMULATOR_HOST),
// so this test cannot run in parallel.
func TestMissingBucket(t *testing.T) {
	fake, err := fakestorage.NewServerWithOptions(fakestorage.Options{Scheme: "http"})
	require.NoError(t, err)
	t.Cleanup(fake.Stop)
	fake.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "exports"})
	t.Setenv(gcs.EmulatorHostEnv, fake.URL())
	srv := lookertest.NewServer(lookertest.Options{})
	t.Cleanup(srv.Close)
	conf := checkConfig(t, srv, gcsJobs)

	code, stdout, stderr := exec(t, context.Background(), "check", "--config", conf)
	require.Equal(t, exitFailed, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	require.Contains(t, stdout, "to_missing_bucket  look 42  [PROBLEM]\n  destination: PROBLEM: bucket no-such-bucket does not exist (or these credentials cannot see it): create it, or fix the job's destination gs://no-such-bucket/orders/dt=")
	require.Regexp(t, `to_bucket  look 42  \[OK\]\n  destination: gs://exports/orders/dt=\d{4}-\d\d-\d\d/orders.csv \(writable\)`, stdout)
	require.Regexp(t, `orders_csv  look 42  \[OK\]\n  destination: /\S+/orders_csv/dt=\S+/orders.csv \(writable\)`, stdout)
	objs, _, err := fake.ListObjectsWithOptions("exports", fakestorage.ListOptions{})
	require.NoError(t, err)
	require.Empty(t, objs, "the check's probe is gone")

	code, stdout, stderr = exec(t, context.Background(), "run", "--config", conf, "to_missing_bucket")
	require.Equal(t, exitFailed, code, "a missing bucket is permanent; stdout:\n%s\nstderr:\n%s", stdout, stderr)
	require.Contains(t, stderr, "bucket no-such-bucket does not exist")
	for _, op := range []string{"run_look", "run_query", "create_query", "create_query_task"} {
		require.Zero(t, srv.Requests(op), "Looker saw %s", op)
	}
}
