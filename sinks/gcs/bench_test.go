package gcs_test

import (
	"flag"
	"fmt"
	"testing"

	"github.com/fsouza/fake-gcs-server/fakestorage"
	"go.uber.org/zap"

	"github.com/lookerexport/exporter/sinks/gcs"
	"github.com/lookerexport/exporter/sinks/sinktest"
)

var benchSize = flag.Int64("gcs.size", 64<<20, "bytes per object in BenchmarkGCSFake")

// BenchmarkGCSFake streams 64 MiB (or -gcs.size bytes) through the sink
// with the default 16 MiB chunks into the in-process fake-gcs-server. The
// fake keeps every object in memory, appends each chunk to a growing copy
// and re-hashes it (CRC32C and MD5) per chunk, so the throughput is a floor
// set by the fake and the peak heap includes its copies of the object;
// the sink's own share is about one chunk.
func BenchmarkGCSFake(b *testing.B) {
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{NoListener: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.Stop)
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "b"})
	client := srv.Client()
	b.Cleanup(func() { _ = client.Close() })
	s := gcs.New(client, zap.NewNop(), gcs.Options{})
	sinktest.Benchmark(b, s, func(i int) string { return fmt.Sprintf("gs://b/bench-%d.bin", i) }, *benchSize,
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
