//go:build unix

package jobs_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/lookerapi/lookertest"
	"github.com/lookerexport/exporter/state"
)

var passthroughRows = flag.Int("jobs.passthrough-rows", 1_000_000, "rows of the Look BenchmarkPassthrough exports")

// BenchmarkPassthrough compares a run of a csv job (Looker's csv passed
// through byte for byte: plain, gzip, zstd) to a plain download of the
// same body: the Look's csv read from the sandbox over HTTP and written to
// a local file as curl -o would. Each iteration does one download and one
// run, alternately, so both see the same machine; the run goes through the
// whole run path (Trigger, lookerapi, convert, publish, localfs, state).
// It reports the MB/s of each (of the csv body, compressed or not),
// ratio_to_download, the run's throughput over the download's, and the
// CPU time each used (jobs.VsDownload).
//
//	go test ./jobs -run '^$' -bench Passthrough -benchtime 5x
func BenchmarkPassthrough(b *testing.B) {
	for _, mode := range []struct{ name, keys, ext string }{
		{"csv", "format: csv", "csv"},
		{"csv.gz", "format: csv\ncompression: gzip", "csv.gz"},
		{"csv.zst", "format: csv\ncompression: zstd", "csv.zst"},
	} {
		b.Run(mode.name, func(b *testing.B) {
			bn := setup(b, *passthroughRows)
			job := bn.job(b, "bench", "source: {look_id: '"+lookertest.LookID+"'}\n"+mode.keys+
				"\ndestination: '$DIR/{{ .RunID }}/orders."+mode.ext+"'")
			dl := newDownloader(b, bn.srv)
			tmp := b.TempDir()
			var vs jobs.VsDownload
			ctx := context.Background()
			for i := 0; b.Loop(); i++ {
				vs.Download(b, func() int64 { return dl.download(b, filepath.Join(tmp, "download.csv")) })
				var run state.Run
				var err error
				vs.Run(b, func() { run, err = bn.run(ctx, job, scheduled.Add(time.Duration(i)*time.Minute), jobs.RunOptions{}) })
				require.NoError(b, err)
				require.Equal(b, state.Succeeded, run.Status, run.Error)
				require.EqualValues(b, *passthroughRows, run.Rows)
				b.StopTimer()
				require.NoError(b, os.RemoveAll(filepath.Dir(strings.TrimPrefix(run.URIs[0], "file://"))))
				b.StartTimer()
			}
			vs.Report(b)
		})
	}
}
