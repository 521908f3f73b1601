package gcs_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"cloud.google.com/go/storage"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"

	"github.com/lookerexport/exporter/sinks"
	"github.com/lookerexport/exporter/sinks/gcs"
	"github.com/lookerexport/exporter/sinks/sinktest"
)

// smallChunk makes uploads of more than 256 KiB resumable and multi-chunk.
const smallChunk = 256 << 10

// newFake starts an in-process fake-gcs-server with no listener: its
// client's transport calls the handler directly.
func newFake(t *testing.T) *fakestorage.Server {
	t.Helper()
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{NoListener: true})
	require.NoError(t, err)
	t.Cleanup(srv.Stop)
	return srv
}

// clientWith returns a storage client that reaches srv through rt, which
// wraps srv's in-process transport.
func clientWith(t *testing.T, rt http.RoundTripper) *storage.Client {
	t.Helper()
	c, err := storage.NewClient(t.Context(), option.WithHTTPClient(&http.Client{Transport: rt}), option.WithoutAuthentication())
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func harness(srv *fakestorage.Server, client *storage.Client, opts gcs.Options) sinktest.Harness {
	var n atomic.Int64
	return sinktest.Harness{
		New: func(t *testing.T) (sinks.Sink, string) {
			bucket := fmt.Sprintf("bucket-%d", n.Add(1))
			srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: bucket})
			return gcs.New(client, zaptest.NewLogger(t), opts), "gs://" + bucket + "/exports"
		},
		Read: func(t *testing.T, uri string) ([]byte, bool) {
			return read(t, client, uri)
		},
		List: func(t *testing.T, base string) []string {
			bucket, prefix, err := gcs.ParseURI(base)
			require.NoError(t, err)
			objs, _, err := srv.ListObjectsWithOptions(bucket, fakestorage.ListOptions{Prefix: prefix + "/"})
			require.NoError(t, err)
			var uris []string
			for _, o := range objs {
				uris = append(uris, "gs://"+bucket+"/"+o.Name)
			}
			return uris
		},
	}
}

// read fetches an object through the GCS API.
func read(t *testing.T, client *storage.Client, uri string) ([]byte, bool) {
	t.Helper()
	bucket, name, err := gcs.ParseURI(uri)
	require.NoError(t, err)
	r, err := client.Bucket(bucket).Object(name).NewReader(t.Context())
	if errors.Is(err, storage.ErrObjectNotExist) {
		return nil, false
	}
	require.NoError(t, err)
	defer r.Close()
	data, err := io.ReadAll(r)
	require.NoError(t, err)
	return data, true
}

func TestConformance(t *testing.T) {
	t.Parallel()
	for _, chunk := range []int{0, smallChunk} {
		// chunk 0 is the 16 MiB default: every object in the suite goes in
		// one request at Close. smallChunk sends the multi-MiB ones as
		// resumable uploads of many chunks.
		t.Run(fmt.Sprintf("chunk=%d", chunk), func(t *testing.T) {
			t.Parallel()
			srv := newFake(t)
			client := srv.Client()
			t.Cleanup(func() { _ = client.Close() })
			sinktest.Run(t, harness(srv, client, gcs.Options{ChunkSize: chunk}))
		})
	}
}

func TestParseURI(t *testing.T) {
	t.Parallel()
	cases := []struct {
		uri, bucket, object, wantErr string
	}{
		{uri: "gs://b/o.csv", bucket: "b", object: "o.csv"},
		{uri: "gs://b/dt=2024-01-02/a b#1ü.csv", bucket: "b", object: "dt=2024-01-02/a b#1ü.csv"},
		{uri: "gs://b/a%20b", bucket: "b", object: "a%20b"},
		{uri: "s3://b/o", wantErr: "not a gs:// URI"},
		{uri: "/local/path", wantErr: "not a gs:// URI"},
		{uri: "gs:///o", wantErr: "has no bucket"},
		{uri: "gs://b", wantErr: "has no object name"},
		{uri: "gs://b/", wantErr: "has no object name"},
		{uri: "gs://b/dir/", wantErr: "name an object, not a folder"},
		{uri: "gs://b/exports/../other/x.csv", wantErr: `has a ".." segment`},
		{uri: "gs://b/../x.csv", wantErr: `has a ".." segment`},
		{uri: "gs://b/exports/./x.csv", wantErr: `has a "." segment`},
		{uri: "gs://b/exports//x.csv", wantErr: "has an empty segment"},
		{uri: "gs://b//x.csv", wantErr: "has an empty segment"},
		{uri: "gs://b/a..b/x...csv", bucket: "b", object: "a..b/x...csv"},
	}
	for _, c := range cases {
		t.Run(c.uri, func(t *testing.T) {
			t.Parallel()
			b, o, err := gcs.ParseURI(c.uri)
			if c.wantErr != "" {
				require.ErrorContains(t, err, c.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, c.bucket, b)
			require.Equal(t, c.object, o)
		})
	}
}

type fixture struct {
	srv    *fakestorage.Server
	client *storage.Client
	sink   *gcs.Sink
}

func setup(t *testing.T, opts gcs.Options) fixture {
	t.Helper()
	srv := newFake(t)
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "b"})
	client := clientWith(t, srv.HTTPClient().Transport)
	return fixture{srv: srv, client: client, sink: gcs.New(client, zaptest.NewLogger(t), opts)}
}

func write(t *testing.T, s sinks.Sink, uri string, data []byte, opts sinks.WriteOptions) error {
	t.Helper()
	w, err := s.Create(t.Context(), uri, opts)
	if err != nil {
		return err
	}
	defer func() { require.NoError(t, w.Abort()) }()
	_, err = w.Write(data)
	require.NoError(t, err)
	return w.Close()
}

func TestWriteOptionsBecomeObjectAttrs(t *testing.T) {
	t.Parallel()
	f := setup(t, gcs.Options{})
	gz := []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 1, 0, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0}
	meta := map[string]string{"job": "daily sales", "scheduled_at": "2024-01-02T03:00:00Z"}
	require.NoError(t, write(t, f.sink, "gs://b/out.csv.gz", gz, sinks.WriteOptions{
		ContentType: "text/csv", ContentEncoding: "gzip", Metadata: meta,
	}))
	attrs, err := f.client.Bucket("b").Object("out.csv.gz").Attrs(t.Context())
	require.NoError(t, err)
	require.Equal(t, "text/csv", attrs.ContentType)
	require.Equal(t, "gzip", attrs.ContentEncoding)
	require.Equal(t, meta, attrs.Metadata)
	require.Equal(t, crc32.Checksum(gz, crc32.MakeTable(crc32.Castagnoli)), attrs.CRC32C)
	// Stored as sent, not decompressed.
	obj, err := f.srv.GetObject("b", "out.csv.gz")
	require.NoError(t, err)
	require.Equal(t, gz, obj.Content)
}

func TestCreateReportsExistingObjectEarly(t *testing.T) {
	t.Parallel()
	f := setup(t, gcs.Options{})
	require.NoError(t, write(t, f.sink, "gs://b/x.csv", []byte("old"), sinks.WriteOptions{}))
	_, err := f.sink.Create(t.Context(), "gs://b/x.csv", sinks.WriteOptions{IfExists: sinks.Fail})
	require.ErrorIs(t, err, sinks.ErrExists)
	require.ErrorContains(t, err, "gs://b/x.csv")
	_, err = f.sink.Create(t.Context(), "gs://b/x.csv", sinks.WriteOptions{IfExists: sinks.Skip})
	require.ErrorIs(t, err, sinks.ErrSkipped)
}

// An object name with "..", "." or empty segments is refused like a local
// path with them, before anything is uploaded: tools that mirror a bucket
// to disk would resolve it outside its prefix.
func TestCreateRefusesDotSegments(t *testing.T) {
	t.Parallel()
	f := setup(t, gcs.Options{})
	for _, uri := range []string{"gs://b/exports/../x.csv", "gs://b/exports/./x.csv", "gs://b/exports//x.csv"} {
		_, err := f.sink.Create(t.Context(), uri, sinks.WriteOptions{})
		require.ErrorContains(t, err, "remove it from the destination", uri)
		require.False(t, sinks.Retryable(err), uri)
		require.ErrorContains(t, f.sink.Check(t.Context(), uri), "segment", uri)
	}
	objs, _, err := f.srv.ListObjectsWithOptions("b", fakestorage.ListOptions{})
	require.NoError(t, err)
	require.Empty(t, objs)
}

func TestUnknownPolicy(t *testing.T) {
	t.Parallel()
	f := setup(t, gcs.Options{})
	_, err := f.sink.Create(t.Context(), "gs://b/x", sinks.WriteOptions{IfExists: "replace"})
	require.ErrorContains(t, err, `unknown if_exists policy "replace"`)
}

// roundTripFunc adapts a function to http.RoundTripper.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func isUpload(r *http.Request) bool { return strings.Contains(r.URL.Path, "/upload/storage/v1/") }

// TestFailPolicyWithoutReadPermission is the roles/storage.objectCreator
// case: the credentials may create objects but not read their metadata, so
// Create's early look-up fails with 403 and the upload's precondition must
// decide alone.
func TestFailPolicyWithoutReadPermission(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "b"})
	base := srv.HTTPClient().Transport
	client := clientWith(t, roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.Method == http.MethodGet {
			return jsonError(r, http.StatusForbidden), nil
		}
		return base.RoundTrip(r)
	}))
	s := gcs.New(client, zaptest.NewLogger(t), gcs.Options{})
	require.NoError(t, write(t, s, "gs://b/x.csv", []byte("first"), sinks.WriteOptions{IfExists: sinks.Fail}))
	err := write(t, s, "gs://b/x.csv", []byte("second"), sinks.WriteOptions{IfExists: sinks.Fail})
	require.ErrorIs(t, err, sinks.ErrExists)
	obj, err := srv.GetObject("b", "x.csv")
	require.NoError(t, err)
	require.Equal(t, []byte("first"), obj.Content)
}

func jsonError(r *http.Request, code int) *http.Response {
	body := fmt.Sprintf(`{"error":{"code":%d,"message":"injected %s"}}`, code, http.StatusText(code))
	return &http.Response{
		StatusCode: code,
		Status:     fmt.Sprintf("%d %s", code, http.StatusText(code)),
		Header:     http.Header{"Content-Type": []string{"application/json"}},
		Body:       io.NopCloser(strings.NewReader(body)),
		Request:    r,
	}
}

func TestUploadErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		code      int
		retryable bool
		hint      string
	}{
		{http.StatusServiceUnavailable, true, ""},
		{http.StatusTooManyRequests, true, ""},
		{http.StatusForbidden, false, "replacing objects needs storage.objects.create and storage.objects.delete on bucket b"},
		{http.StatusUnauthorized, false, "the credentials were rejected"},
		{http.StatusNotFound, false, "bucket b does not exist"},
	}
	for _, c := range cases {
		t.Run(http.StatusText(c.code), func(t *testing.T) {
			t.Parallel()
			srv := newFake(t)
			base := srv.HTTPClient().Transport
			var uploads atomic.Int64
			client := clientWith(t, roundTripFunc(func(r *http.Request) (*http.Response, error) {
				if isUpload(r) {
					uploads.Add(1)
					return jsonError(r, c.code), nil
				}
				return base.RoundTrip(r)
			}))
			// Overwrite uploads carry no precondition, so the client
			// does not retry them: the first error comes back.
			s := gcs.New(client, zaptest.NewLogger(t), gcs.Options{})
			err := write(t, s, "gs://b/x.csv", []byte("data"), sinks.WriteOptions{})
			require.Error(t, err)
			require.ErrorContains(t, err, "gs://b/x.csv")
			require.Equal(t, c.retryable, sinks.Retryable(err), "Retryable(%v)", err)
			if c.hint != "" {
				require.ErrorContains(t, err, c.hint)
			}
			require.Equal(t, int64(1), uploads.Load())
		})
	}
}

// corrupter flips the first "CORRUPT-ME" in an upload request body to
// "CORRUPTED!" (same length), as a bad link or proxy might.
func corrupter(base http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if !isUpload(r) || r.Body == nil {
			return base.RoundTrip(r)
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		_ = r.Body.Close()
		body = bytes.Replace(body, []byte("CORRUPT-ME"), []byte("CORRUPTED!"), 1)
		r2 := r.Clone(r.Context())
		r2.Body = io.NopCloser(bytes.NewReader(body))
		r2.ContentLength = int64(len(body))
		return base.RoundTrip(r2)
	})
}

func corruptiblePayload(n int) []byte {
	data := bytes.Repeat([]byte("0123456789abcdef"), n/16)
	copy(data[100:], "CORRUPT-ME")
	return data
}

// A single-request upload carries the client's CRC32C in the object
// resource; the server (here the fake, as GCS does) rejects the mismatch.
func TestCorruptionRejectedSingleRequest(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "b"})
	client := clientWith(t, corrupter(srv.HTTPClient().Transport))
	s := gcs.New(client, zaptest.NewLogger(t), gcs.Options{})
	err := write(t, s, "gs://b/x.bin", corruptiblePayload(64<<10), sinks.WriteOptions{})
	require.ErrorContains(t, err, "doesn't match calculated CRC32C")
	_, err = srv.GetObject("b", "x.bin")
	require.Error(t, err, "a corrupted upload must not become visible")
}

// A resumable upload sends the client's CRC32C in X-Goog-Hash on its last
// request. fake-gcs-server ignores that header (GCS does not), so the
// corruption gets committed here and the sink's own check after Close must
// catch it and delete the object.
func TestCorruptionCaughtAfterResumableUpload(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "b"})
	client := clientWith(t, corrupter(srv.HTTPClient().Transport))
	s := gcs.New(client, zaptest.NewLogger(t), gcs.Options{ChunkSize: smallChunk})
	data := corruptiblePayload(3*smallChunk + 100)
	err := write(t, s, "gs://b/x.bin", data, sinks.WriteOptions{})
	require.ErrorContains(t, err, fmt.Sprintf("but %d bytes with CRC32C %08x were written", len(data), crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli))))
	require.ErrorContains(t, err, "deleted the corrupt object")
	require.True(t, sinks.Retryable(err))
	_, err = srv.GetObject("b", "x.bin")
	require.Error(t, err, "the corrupt object must be deleted")
}

// TestResumableUploadSendsCRC32C pins the storage client behaviour the
// package doc relies on: the last request of a resumable upload carries the
// full object's CRC32C.
func TestResumableUploadSendsCRC32C(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "b"})
	base := srv.HTTPClient().Transport
	var mu sync.Mutex
	var hashes []string
	var chunks int
	client := clientWith(t, roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if isUpload(r) && r.URL.Query().Get("upload_id") != "" { // a chunk, not the initiation
			mu.Lock()
			chunks++
			if h := r.Header.Get("X-Goog-Hash"); h != "" {
				hashes = append(hashes, h)
			}
			mu.Unlock()
		}
		return base.RoundTrip(r)
	}))
	data := corruptiblePayload(3*smallChunk + 100)
	s := gcs.New(client, zaptest.NewLogger(t), gcs.Options{ChunkSize: smallChunk})
	require.NoError(t, write(t, s, "gs://b/x.bin", data, sinks.WriteOptions{}))
	var sum [4]byte
	binary.BigEndian.PutUint32(sum[:], crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli)))
	require.Equal(t, 4, chunks, "3 full chunks and a short last one")
	require.Equal(t, []string{"crc32c=" + base64.StdEncoding.EncodeToString(sum[:])}, hashes,
		"exactly the last request carries the object's CRC32C")
}

// TestStorageWriterCancelDoesNotCommit pins the storage client behaviour
// the package relies on: cancelling the Writer's context before Close means
// the object is never created, whether the data was still in the client's
// buffer or already partly uploaded in chunks.
//
// This needs a real HTTP transport, which refuses to send a request whose
// context is done. The fake's in-process transport ignores the context,
// and there Close can race the client's cancellation monitor and finalize
// a small upload; the sink does not depend on that race (Abort fails the
// upload's pipe before closing it, and Close checks the context first),
// and the conformance suite runs over the in-process transport to prove it.
func TestStorageWriterCancelDoesNotCommit(t *testing.T) {
	t.Parallel()
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{Scheme: "http"})
	require.NoError(t, err)
	t.Cleanup(srv.Stop)
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "b"})
	client, err := storage.NewClient(t.Context(), option.WithEndpoint(srv.URL()+"/storage/v1/"), option.WithoutAuthentication())
	require.NoError(t, err)
	t.Cleanup(func() { _ = client.Close() })
	for _, size := range []int{1000, 3*smallChunk + 1} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			name := fmt.Sprintf("x-%d", size)
			ctx, cancel := context.WithCancel(t.Context())
			w := client.Bucket("b").Object(name).NewWriter(ctx)
			w.ChunkSize = smallChunk
			_, err := w.Write(bytes.Repeat([]byte("x"), size))
			require.NoError(t, err)
			cancel()
			require.ErrorIs(t, w.Close(), context.Canceled)
			_, err = srv.GetObject("b", name)
			require.Error(t, err, "object committed after cancel")
		})
	}
}

// TestAbortMidUpload aborts after chunks were sent: nothing appears and
// the writer is done.
func TestAbortMidUpload(t *testing.T) {
	t.Parallel()
	f := setup(t, gcs.Options{ChunkSize: smallChunk})
	w, err := f.sink.Create(t.Context(), "gs://b/x.bin", sinks.WriteOptions{})
	require.NoError(t, err)
	_, err = w.Write(bytes.Repeat([]byte("y"), 5*smallChunk))
	require.NoError(t, err)
	require.NoError(t, w.Abort())
	_, err = f.srv.GetObject("b", "x.bin")
	require.Error(t, err)
	objs, _, err := f.srv.ListObjectsWithOptions("b", fakestorage.ListOptions{})
	require.NoError(t, err)
	require.Empty(t, objs)
	_, err = w.Write([]byte("z"))
	require.ErrorContains(t, err, "writer already closed or aborted")
}

func TestListedObjectsViaAPI(t *testing.T) {
	t.Parallel()
	// The harness lists through the fake's backend; check once that the
	// API agrees, names with odd characters included.
	f := setup(t, gcs.Options{})
	names := []string{"a b.csv", "k=v/ü#1.csv"}
	for _, n := range names {
		require.NoError(t, write(t, f.sink, "gs://b/"+n, []byte(n), sinks.WriteOptions{}))
	}
	var got []string
	it := f.client.Bucket("b").Objects(t.Context(), nil)
	for {
		a, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		require.NoError(t, err)
		got = append(got, a.Name)
	}
	require.ElementsMatch(t, names, got)
}

// GCS may evaluate the precondition when a resumable upload starts, which
// happens inside a Write once the first chunk is full; the 412 must still
// come back as the sentinel, from that Write and from Close.
func TestPreconditionFailsAtUploadStart(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		policy sinks.IfExists
		want   error
	}{{sinks.Fail, sinks.ErrExists}, {sinks.Skip, sinks.ErrSkipped}} {
		t.Run(string(c.policy), func(t *testing.T) {
			t.Parallel()
			srv := newFake(t)
			base := srv.HTTPClient().Transport
			client := clientWith(t, roundTripFunc(func(r *http.Request) (*http.Response, error) {
				if isUpload(r) {
					require.Equal(t, "0", r.URL.Query().Get("ifGenerationMatch"), "fail/skip uploads carry the DoesNotExist precondition")
					return jsonError(r, http.StatusPreconditionFailed), nil
				}
				return base.RoundTrip(r)
			}))
			s := gcs.New(client, zaptest.NewLogger(t), gcs.Options{ChunkSize: smallChunk})
			w, err := s.Create(t.Context(), "gs://b/x.bin", sinks.WriteOptions{IfExists: c.policy})
			require.NoError(t, err)
			defer func() { require.NoError(t, w.Abort()) }()
			var werr error
			for range 4 {
				if _, werr = w.Write(make([]byte, smallChunk)); werr != nil {
					break
				}
			}
			require.ErrorIs(t, werr, c.want, "from Write")
			require.ErrorIs(t, w.Close(), c.want, "from Close")
		})
	}
}

// TestSmallObjectsTakeASmallBuffer: an object no larger than 256 KiB (a
// manifest, a _SUCCESS marker, a small result) is uploaded with the
// client's smallest chunk, not Options.ChunkSize: it allocates well under
// the 16 MiB a default chunk takes. Objects either side of 256 KiB, in one
// write or many, arrive whole, as one request or a resumable upload.
func TestSmallObjectsTakeASmallBuffer(t *testing.T) {
	f := setup(t, gcs.Options{})
	small := bytes.Repeat([]byte("orders,42\n"), 100)
	require.NoError(t, write(t, f.sink, "gs://b/warm.csv", small, sinks.WriteOptions{}))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	require.NoError(t, write(t, f.sink, "gs://b/small.csv", small, sinks.WriteOptions{}))
	runtime.ReadMemStats(&after)
	require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(2<<20), "bytes allocated by a 1 KB upload")

	for _, n := range []int{0, 1, 256<<10 - 1, 256 << 10, 256<<10 + 1, 3<<20 + 5} {
		for _, pieces := range []int{1, 7} {
			data := make([]byte, n)
			for i := range data {
				data[i] = byte(i*7 + i/251)
			}
			uri := fmt.Sprintf("gs://b/sized-%d-%d.bin", n, pieces)
			w, err := f.sink.Create(t.Context(), uri, sinks.WriteOptions{})
			require.NoError(t, err)
			for i := range pieces {
				_, err := w.Write(data[i*n/pieces : (i+1)*n/pieces])
				require.NoError(t, err)
			}
			require.NoError(t, w.Close())
			got, ok := read(t, f.client, uri)
			require.True(t, ok, "%d bytes in %d writes", n, pieces)
			require.True(t, bytes.Equal(data, got), "%d bytes in %d writes", n, pieces)
		}
	}
}

// TestLateMetadata: metadata set after the data (the row count) reaches
// the object either way; a small object, uploaded at Close in one
// request, carries it in that request and needs no update after, a large
// one gets it in one update after its commit.
func TestLateMetadata(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "b"})
	base := srv.HTTPClient().Transport
	var mu sync.Mutex
	var requests []string
	client := clientWith(t, roundTripFunc(func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		requests = append(requests, r.Method)
		mu.Unlock()
		return base.RoundTrip(r)
	}))
	s := gcs.New(client, zaptest.NewLogger(t), gcs.Options{ChunkSize: 256 << 10})
	for _, tc := range []struct {
		name    string
		size    int
		updates int // PATCH requests after the upload
	}{
		{"small", 1000, 0},
		{"large", 600 << 10, 1},
	} {
		mu.Lock()
		requests = nil
		mu.Unlock()
		w, err := s.Create(t.Context(), "gs://b/"+tc.name+".csv", sinks.WriteOptions{Metadata: map[string]string{"exporter-job": "orders"}})
		require.NoError(t, err)
		_, err = w.Write(bytes.Repeat([]byte("x"), tc.size))
		require.NoError(t, err)
		w.(sinks.LateMetadata).SetLateMetadata(map[string]string{"exporter-rows": "42"})
		require.NoError(t, w.Close())
		attrs, err := client.Bucket("b").Object(tc.name + ".csv").Attrs(t.Context())
		require.NoError(t, err)
		require.Equal(t, map[string]string{"exporter-job": "orders", "exporter-rows": "42"}, attrs.Metadata, tc.name)
		mu.Lock()
		patches := 0
		for _, m := range requests {
			if m == http.MethodPatch {
				patches++
			}
		}
		mu.Unlock()
		require.Equal(t, tc.updates, patches, "%s: metadata updates, of requests %v", tc.name, requests)
	}
}
