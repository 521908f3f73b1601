package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
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

// TestCheckTellsWrongBaseURLFromBadCredentials: `exporter check` against
// a host that is not Looker says to fix looker.base_url; against Looker
// with a wrong secret, to fix the credentials. Each error leads.
func TestCheckTellsWrongBaseURLFromBadCredentials(t *testing.T) {
	t.Parallel()
	srv := lookertest.NewServer(lookertest.Options{})
	t.Cleanup(srv.Close)
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "404 page not found", http.StatusNotFound)
	}))
	t.Cleanup(web.Close)
	for _, tt := range []struct {
		name, from, to, want string
	}{
		{"wrong base url", srv.URL(), web.URL, "  error: base_url " + web.URL + " does not look like a Looker API (GET /api/4.0/versions answered 404 404 page not found): check looker.base_url"},
		{"bad credentials", srv.ClientSecret(), "not-the-secret", "  error: Looker refused the client id/secret (404 Not found from POST /login): check LOOKERSDK_CLIENT_ID and LOOKERSDK_CLIENT_SECRET"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			conf := checkConfig(t, srv, "")
			b, err := os.ReadFile(conf)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(conf, []byte(strings.Replace(string(b), tt.from, tt.to, 1)), 0o600))
			code, stdout, stderr := exec(t, context.Background(), "check", "--config", conf, "orders_csv")
			require.Equal(t, exitFailed, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
			require.Contains(t, stdout, tt.want)
			require.NotContains(t, stdout, "not-the-secret")
		})
	}
}
