//go:build unix

package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/lookerexport/exporter/jobs/config"
	"github.com/lookerexport/exporter/lookerapi"
	"github.com/lookerexport/exporter/lookerapi/lookertest"
	"github.com/lookerexport/exporter/sinks/localfs"
	"github.com/lookerexport/exporter/sinks/publish"
)

// BenchmarkPassthroughWire is BenchmarkPassthrough without the sandbox's
// cost of making the rows: the Look's csv (1M rows) is saved once and
// served from a file, as a remote Looker would send it without using this
// machine's CPU, so that the figures show the exporter's own speed against
// the wire's. Each iteration downloads the body to a local file (as curl
// -o would) and passes it through convert to a publish.Set on localfs
// (fsync and rename included), alternately.
//
//	go test ./jobs -run '^$' -bench PassthroughWire -benchtime 5x
func BenchmarkPassthroughWire(b *testing.B) {
	body := wireBody(b, 1_000_000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		http.ServeFile(w, r, body)
	}))
	b.Cleanup(srv.Close)
	get := func() io.ReadCloser {
		resp, err := http.Get(srv.URL)
		require.NoError(b, err)
		require.Equal(b, http.StatusOK, resp.StatusCode)
		return resp.Body
	}
	for _, mode := range []struct{ name, compression, ext string }{
		{"csv", "none", "csv"},
		{"csv.gz", "gzip", "csv.gz"},
		{"csv.zst", "zstd", "csv.zst"},
	} {
		b.Run(mode.name, func(b *testing.B) {
			y := fmt.Sprintf("looker: {base_url: 'https://looker.example.com', client_id: x, client_secret: y}\njobs:\n"+
				"  - {name: bench, schedule: '* * * * *', source: {look_id: '42'}, format: csv, compression: %s, destination: /tmp/x.%s}\n",
				mode.compression, mode.ext)
			cfg, err := config.Parse("bench.yaml", []byte(y), config.Options{LookupEnv: func(string) (string, bool) { return "", false }})
			require.NoError(b, err)
			job := cfg.Jobs[0]
			require.True(b, job.Plan.Passthrough)
			dir := b.TempDir()
			sink := localfs.New(zap.NewNop())
			ctx := context.Background()
			var vs vsDownload
			for i := 0; b.Loop(); i++ {
				vs.Download(b, func() int64 {
					r := get()
					defer r.Close()
					f, err := os.Create(filepath.Join(dir, "download.csv"))
					require.NoError(b, err)
					n, err := io.Copy(f, r)
					require.NoError(b, err)
					require.NoError(b, f.Close())
					return n
				})
				require.NoError(b, os.Remove(filepath.Join(dir, "download.csv")))

				var rows atomic.Int64
				vs.Run(b, func() {
					r := get()
					defer r.Close()
					dest := localfs.URI(filepath.Join(dir, fmt.Sprint(i), "orders."+mode.ext))
					out, err := publish.Begin(ctx, sink, publish.Options{Dest: dest})
					require.NoError(b, err)
					var info outputInfo
					require.NoError(b, convert(ctx, job, &lookerapi.Result{Body: r, Format: "csv"}, out, &rows, &info, time.UTC))
					require.NoError(b, out.Commit(ctx, nil))
				})
				require.EqualValues(b, 1_000_000, rows.Load())
				require.NoError(b, os.RemoveAll(filepath.Join(dir, fmt.Sprint(i))))
			}
			vs.Report(b)
		})
	}
}

// wireBody saves the sandbox Look's csv of n rows to a file.
func wireBody(b *testing.B, n int) string {
	b.Helper()
	srv := lookertest.NewServer(lookertest.Options{Rows: n})
	defer srv.Close()
	resp, err := http.PostForm(srv.URL()+"/api/4.0/login", url.Values{"client_id": {srv.ClientID()}, "client_secret": {srv.ClientSecret()}})
	require.NoError(b, err)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	require.NoError(b, err)
	req, err := http.NewRequest(http.MethodGet, srv.URL()+"/api/4.0/looks/"+lookertest.LookID+"/run/csv?limit=-1", nil)
	require.NoError(b, err)
	req.Header.Set("Authorization", "token "+tok.AccessToken)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(b, err)
	defer resp.Body.Close()
	require.Equal(b, http.StatusOK, resp.StatusCode)
	path := filepath.Join(b.TempDir(), "looker.csv")
	f, err := os.Create(path)
	require.NoError(b, err)
	_, err = io.Copy(f, resp.Body)
	require.NoError(b, err)
	require.NoError(b, f.Close())
	return path
}

// vsDownload times downloads and runs of the same body, wall clock and
// CPU, side by side. For a compressed run it also times the alternative a
// user would script (the download piped through the compressor's
// command) and the floor of any compressed export on this machine (the
// download through the exporter's own compressor, and nothing else).
type vsDownload struct {
	size                   int64
	down, run, pipe, floor timing
}

// timing adds up the wall clock and CPU time of timed calls.
type timing struct {
	wall, cpu time.Duration
	n         int
}

// time runs f and adds its wall clock and CPU time (cpu: the process's,
// and with children also its ended children's).
func (t *timing) time(tb testing.TB, children bool, f func()) {
	cpu := func() time.Duration {
		if children {
			return processCPU(tb) + childrenCPU(tb)
		}
		return processCPU(tb)
	}
	start, c := time.Now(), cpu()
	f()
	t.wall += time.Since(start)
	t.cpu += cpu() - c
	t.n++
}

// mbps is the MB/s of size bytes per call; cpuMS the CPU milliseconds per
// call.
func (t *timing) mbps(size int64) float64 {
	return float64(size) * float64(t.n) / 1e6 / t.wall.Seconds()
}
func (t *timing) cpuMS() float64 { return t.cpu.Seconds() * 1e3 / float64(t.n) }

// Download times download, which returns the size of the body.
func (v *vsDownload) Download(tb testing.TB, download func() int64) {
	v.down.time(tb, false, func() { v.size = download() })
}

// Run times run.
func (v *vsDownload) Run(tb testing.TB, run func()) { v.run.time(tb, false, run) }

// Pipe times pipe, a download through a compressor's command (as
// curl URL | gzip -1 > file); its CPU counts the command's.
func (v *vsDownload) Pipe(tb testing.TB, pipe func()) { v.pipe.time(tb, true, pipe) }

// Floor times floor, a download through the exporter's compressor into a
// file and nothing else: no decoding, hashing, fsync or state. No
// compressed export with that compressor can be faster on this machine.
func (v *vsDownload) Floor(tb testing.TB, floor func()) { v.floor.time(tb, false, floor) }

// Report reports the MB/s of the body downloaded and run, the ratio of the
// run's to the download's, and the CPU time of each per op: CPU time of
// the whole process (a sandbox Looker's too), which other work on the
// machine inflates less than wall time. With pipes timed, it reports
// theirs too (pipe_MB/s, pipe_cpu_ms/op) and ratio_to_pipe, the run's
// throughput over the pipe's; with floors timed, floor_MB/s,
// floor_cpu_ms/op and floor_to_download, the highest ratio_to_download
// the compressor leaves possible.
func (v *vsDownload) Report(b *testing.B) {
	down, run := v.down.mbps(v.size), v.run.mbps(v.size)
	b.ReportMetric(down, "download_MB/s")
	b.ReportMetric(run, "run_MB/s")
	b.ReportMetric(run/down, "ratio_to_download")
	b.ReportMetric(v.down.cpuMS(), "download_cpu_ms/op")
	b.ReportMetric(v.run.cpuMS(), "run_cpu_ms/op")
	if v.pipe.n > 0 {
		b.ReportMetric(v.pipe.mbps(v.size), "pipe_MB/s")
		b.ReportMetric(v.pipe.cpuMS(), "pipe_cpu_ms/op")
		b.ReportMetric(run/v.pipe.mbps(v.size), "ratio_to_pipe")
	}
	if v.floor.n > 0 {
		b.ReportMetric(v.floor.mbps(v.size), "floor_MB/s")
		b.ReportMetric(v.floor.cpuMS(), "floor_cpu_ms/op")
		b.ReportMetric(v.floor.mbps(v.size)/down, "floor_to_download")
	}
	b.SetBytes(v.size)
}

// processCPU is the user and system CPU time the process has used.
func processCPU(tb testing.TB) time.Duration { return rusageCPU(tb, syscall.RUSAGE_SELF) }

// childrenCPU is the user and system CPU time of the process's children
// that have ended and been waited for.
func childrenCPU(tb testing.TB) time.Duration { return rusageCPU(tb, syscall.RUSAGE_CHILDREN) }

func rusageCPU(tb testing.TB, who int) time.Duration {
	var ru syscall.Rusage
	require.NoError(tb, syscall.Getrusage(who, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
