package gcs_test

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/lookerexport/exporter/sinks"
	"github.com/lookerexport/exporter/sinks/gcs"
)

// crashURIEnv names the object the helper process uploads; its presence
// is what makes TestHelperProcess act as the child.
const crashURIEnv = "EXPORTER_GCS_CRASH_URI"

// TestHelperProcess is not a test: TestCrashLeavesNoObject runs the test
// binary again with -test.run=TestHelperProcess to get a child that
// streams a large object to the emulator named by STORAGE_EMULATOR_HOST
// and reports progress on stdout, until it is killed.
func TestHelperProcess(t *testing.T) {
	uri := os.Getenv(crashURIEnv)
	if uri == "" {
		t.Skip("helper process for TestCrashLeavesNoObject; runs only as its child")
	}
	fail := func(err error) {
		fmt.Println("error:", err)
		os.Exit(2)
	}
	client, err := gcs.NewClient(t.Context(), "")
	if err != nil {
		fail(err)
	}
	s := gcs.New(client, zap.NewNop(), gcs.Options{ChunkSize: smallChunk})
	w, err := s.Create(t.Context(), uri, sinks.WriteOptions{ContentType: "text/csv"})
	if err != nil {
		fail(err)
	}
	chunk := []byte(strings.Repeat("0123456789abcdef", 4096)) // 64 KiB
	const reportAt = 8 << 20
	for written := 0; written < 1<<30; written += len(chunk) {
		if _, err := w.Write(chunk); err != nil {
			fail(err)
		}
		if written == reportAt {
			fmt.Println("streaming", written) // the parent kills us now
		}
	}
	select {} // the parent has not killed us: wait for it
}

// TestCrashLeavesNoObject is bar 2 of issue 5 for GCS: a child process
// uploading a large object in chunks to fake-gcs-server, which runs in
// this (the parent) process behind a real listener, is killed with
// SIGKILL mid-upload. Chunks had been accepted (the resumable upload was
// under way), yet no object exists: GCS creates an object only when an
// upload is finalized. What the crash leaves is an unfinished resumable
// upload session, which is not an object, is invisible to readers and
// listings, and which GCS deletes by itself a week after it started;
// there is nothing for the next start to clean.
func TestCrashLeavesNoObject(t *testing.T) {
	t.Parallel()
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{NoListener: true})
	require.NoError(t, err)
	t.Cleanup(srv.Stop)
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "b"})
	var chunks atomic.Int64 // chunk requests of resumable uploads
	fake := srv.HTTPHandler()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("upload_id") != "" {
			chunks.Add(1)
		}
		fake.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)

	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashURIEnv+"=gs://b/dt=2026-01-02/orders ü.csv", gcs.EmulatorHostEnv+"="+hs.URL)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err, "the child died before reporting progress")
	require.True(t, strings.HasPrefix(line, "streaming "), "child said %q", line)
	require.NoError(t, cmd.Process.Kill())
	require.ErrorContains(t, cmd.Wait(), "signal: killed")

	require.Greater(t, chunks.Load(), int64(4), "the child had uploaded several chunks before it died")
	_, err = srv.GetObject("b", "dt=2026-01-02/orders ü.csv")
	require.Error(t, err, "a killed upload must not create the object")
	objs, _, err := srv.ListObjectsWithOptions("b", fakestorage.ListOptions{})
	require.NoError(t, err)
	require.Empty(t, objs, "nothing at all is listed")
}
