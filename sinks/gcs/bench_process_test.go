package gcs_test

import (
	"bufio"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"

	"cloud.google.com/go/storage"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"go.uber.org/zap"
	"google.golang.org/api/option"

	"github.com/lookerexport/exporter/sinks/gcs"
	"github.com/lookerexport/exporter/sinks/sinktest"
)

// fakeServeEnv makes TestFakeServerProcess serve fake-gcs-server.
const fakeServeEnv = "EXPORTER_GCS_FAKE_SERVE"

// TestFakeServerProcess is not a test: the out-of-process benchmarks run
// the test binary again with -test.run=TestFakeServerProcess to get a
// fake-gcs-server in its own process (it keeps objects in memory, which
// would otherwise count in the benchmark's heap). It prints its URL and
// serves until its stdin is closed.
func TestFakeServerProcess(t *testing.T) {
	if os.Getenv(fakeServeEnv) == "" {
		t.Skip("fake-gcs-server process for the out-of-process benchmarks; runs only as their child")
	}
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{NoListener: true})
	if err != nil {
		t.Fatal(err)
	}
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "b"})
	hs := httptest.NewServer(srv.HTTPHandler())
	fmt.Println(hs.URL)
	_, _ = io.Copy(io.Discard, os.Stdin)
	hs.Close()
	srv.Stop()
}

// fakeProcess starts TestFakeServerProcess and returns a client for it.
func fakeProcess(b *testing.B) *storage.Client {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFakeServerProcess$", "-test.bench=^$", "-test.count=1")
	cmd.Env = append(os.Environ(), fakeServeEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = stdin.Close(); _ = cmd.Wait() })
	url, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		b.Fatalf("fake-gcs-server process: %v", err)
	}
	client, err := storage.NewClient(b.Context(), option.WithEndpoint(strings.TrimSpace(url)+"/storage/v1/"), option.WithoutAuthentication())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = client.Close() })
	return client
}

// BenchmarkGCS1GiBOutOfProcess streams 1 GiB (or -gcs.size bytes) through
// the sink, with the default 16 MiB chunks, over real HTTP to
// fake-gcs-server in a child process. peak-heap-MiB is therefore the
// exporter side alone: about one chunk buffer whatever the object's size.
// MB/s is a floor set by the fake, which re-hashes the whole object so
// far at every chunk; run it with -benchtime=1x.
func BenchmarkGCS1GiBOutOfProcess(b *testing.B) {
	size := *benchSize
	if size == 64<<20 { // the flag's default, meant for the in-process fake
		size = 1 << 30
	}
	client := fakeProcess(b)
	s := gcs.New(client, zap.NewNop(), gcs.Options{})
	sinktest.Benchmark(b, s, func(i int) string { return fmt.Sprintf("gs://b/bench-%d.bin", i) }, size,
		func(uri string) {
			_, name, err := gcs.ParseURI(uri)
			if err == nil {
				err = client.Bucket("b").Object(name).Delete(b.Context())
			}
			if err != nil {
				b.Fatal(err)
			}
		})
}
