package gcs_test

import (
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/lookerexport/exporter/sinks"
	"github.com/lookerexport/exporter/sinks/gcs"
)

// TestCheckMissingBucket: a destination in a bucket that does not exist
// fails the check permanently, cause first, and says what to do.
// fake-gcs-server does not implement testIamPermissions, so this goes
// through the probe object fallback.
func TestCheckMissingBucket(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	s := gcs.New(clientWith(t, srv.HTTPClient().Transport), zaptest.NewLogger(t), gcs.Options{})
	err := s.Check(t.Context(), "gs://no-such-bucket/orders/2026/orders.csv")
	require.ErrorIs(t, err, sinks.ErrNotWritable)
	require.False(t, sinks.Retryable(err))
	require.True(t, strings.HasPrefix(err.Error(), "bucket no-such-bucket does not exist"), err.Error())
	require.Contains(t, err.Error(), "create it, or fix the job's destination gs://no-such-bucket/orders/2026/orders.csv")
}

// TestCheckUsesTestIamPermissions: where GCS answers testIamPermissions
// (stood in for here, since the fake does not implement it), its answer
// decides: both permissions granted passes without writing a probe; a
// missing storage.objects.delete fails naming it and the role to grant.
func TestCheckUsesTestIamPermissions(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		granted string
		wantErr string
	}{
		{"both granted", `["storage.objects.create","storage.objects.delete"]`, ""},
		{"delete missing", `["storage.objects.create"]`, "the credentials lack [storage.objects.delete] on bucket exports"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newFake(t)
			srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "exports"})
			base := srv.HTTPClient().Transport
			var iamCalls, uploads atomic.Int64
			client := clientWith(t, roundTripFunc(func(r *http.Request) (*http.Response, error) {
				if strings.HasSuffix(r.URL.Path, "/b/exports/iam/testPermissions") {
					iamCalls.Add(1)
					require.ElementsMatch(t, []string{"storage.objects.create", "storage.objects.delete"}, r.URL.Query()["permissions"])
					body := `{"kind":"storage#testIamPermissionsResponse","permissions":` + tt.granted + `}`
					return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
						Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
				}
				if strings.Contains(r.URL.Path, "/upload/") {
					uploads.Add(1)
				}
				return base.RoundTrip(r)
			}))
			err := gcs.New(client, zaptest.NewLogger(t), gcs.Options{}).Check(t.Context(), "gs://exports/daily/out.csv")
			require.Equal(t, int64(1), iamCalls.Load())
			require.Zero(t, uploads.Load(), "no probe object when testIamPermissions answers")
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, sinks.ErrNotWritable)
			require.True(t, strings.HasPrefix(err.Error(), tt.wantErr), err.Error())
			require.Contains(t, err.Error(), "roles/storage.objectUser")
		})
	}
}

// TestCheckProbeNeedsCreate: through the fallback, a 403 on the probe's
// upload fails the check naming the permissions, and nothing is left.
func TestCheckProbeNeedsCreate(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "exports"})
	base := srv.HTTPClient().Transport
	client := clientWith(t, roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if strings.Contains(r.URL.Path, "/upload/") {
			return &http.Response{StatusCode: http.StatusForbidden, Header: http.Header{"Content-Type": {"application/json"}},
				Body: io.NopCloser(strings.NewReader(`{"error":{"code":403,"message":"no create"}}`)), Request: r}, nil
		}
		return base.RoundTrip(r)
	}))
	err := gcs.New(client, zaptest.NewLogger(t), gcs.Options{}).Check(t.Context(), "gs://exports/daily/out.csv")
	require.ErrorIs(t, err, sinks.ErrNotWritable)
	require.True(t, strings.HasPrefix(err.Error(), "the credentials may not create a probe object in bucket exports"), err.Error())
	objs, _, lerr := srv.ListObjectsWithOptions("exports", fakestorage.ListOptions{})
	require.NoError(t, lerr)
	require.Empty(t, objs)
}
