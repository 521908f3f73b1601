//go:build unix

package jobs_test

import (
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/formats"
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
// CPU time each used (jobs.VsDownload). A compressed run is also timed
// against what a user would script without the exporter: the download
// piped through the compressor's command at its fastest level (gzip -1,
// zstd -1), into a file (pipe_MB/s, ratio_to_pipe); without the command
// on the PATH that comparison is left out, and the log says so. It is also
// timed against its floor: the download through the exporter's own
// compressor into a file, with nothing else (floor_MB/s). On a machine
// where the sandbox making the body takes one of two cores,
// floor_to_download is the most ratio_to_download a compressed run could
// reach with that compressor.
//
//	go test ./jobs -run '^$' -bench Passthrough -benchtime 5x
func BenchmarkPassthrough(b *testing.B) {
	for _, mode := range []struct {
		name, keys, ext string
		codec           formats.Compression
		pipe            []string // the user's compressor command; nil: none
	}{
		{"csv", "format: csv", "csv", formats.None, nil},
		{"csv.gz", "format: csv\ncompression: gzip", "csv.gz", formats.Gzip, []string{"gzip", "-1", "-c"}},
		{"csv.zst", "format: csv\ncompression: zstd", "csv.zst", formats.Zstd, []string{"zstd", "-1", "-q", "-c"}},
	} {
		b.Run(mode.name, func(b *testing.B) {
			bn := setup(b, *passthroughRows)
			job := bn.job(b, "bench", "source: {look_id: '"+lookertest.LookID+"'}\n"+mode.keys+
				"\ndestination: '$DIR/{{ .RunID }}/orders."+mode.ext+"'")
			dl := newDownloader(b, bn.srv)
			tmp := b.TempDir()
			var vs jobs.VsDownload
			pipe := mode.pipe
			if pipe != nil {
				if _, err := exec.LookPath(pipe[0]); err != nil {
					b.Logf("%s is not on the PATH: the run is not compared to the download piped through %s", pipe[0], strings.Join(pipe, " "))
					pipe = nil
				}
			}
			ctx := context.Background()
			for i := 0; b.Loop(); i++ {
				vs.Download(b, func() int64 { return dl.download(b, filepath.Join(tmp, "download.csv")) })
				if pipe != nil {
					vs.Pipe(b, func() { dl.pipe(b, filepath.Join(tmp, "download."+mode.ext), pipe[0], pipe[1:]...) })
				}
				if mode.codec != formats.None {
					vs.Floor(b, func() { dl.compress(b, filepath.Join(tmp, "floor."+mode.ext), mode.codec) })
				}
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
