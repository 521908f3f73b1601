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
			var size int64
			var tDown, tRun, cDown, cRun time.Duration
			for i := 0; b.Loop(); i++ {
				start, cpu := time.Now(), processCPU(b)
				r := get()
				f, err := os.Create(filepath.Join(dir, "download.csv"))
				require.NoError(b, err)
				size, err = io.Copy(f, r)
				require.NoError(b, err)
				require.NoError(b, f.Close())
				r.Close()
				tDown += time.Since(start)
				cDown += processCPU(b) - cpu
				require.NoError(b, os.Remove(f.Name()))

				start, cpu = time.Now(), processCPU(b)
				r = get()
				dest := localfs.URI(filepath.Join(dir, fmt.Sprint(i), "orders."+mode.ext))
				out, err := publish.Begin(ctx, sink, publish.Options{Dest: dest})
				require.NoError(b, err)
				var rows atomic.Int64
				var info outputInfo
				require.NoError(b, convert(ctx, job, r, out, &rows, &info, time.UTC, nil))
				require.NoError(b, out.Commit(ctx, nil))
				r.Close()
				tRun += time.Since(start)
				cRun += processCPU(b) - cpu
				require.EqualValues(b, 1_000_000, rows.Load())
				require.NoError(b, os.RemoveAll(filepath.Join(dir, fmt.Sprint(i))))
			}
			mb := float64(size) * float64(b.N) / 1e6
			b.ReportMetric(mb/tDown.Seconds(), "download_MB/s")
			b.ReportMetric(mb/tRun.Seconds(), "run_MB/s")
			b.ReportMetric(tDown.Seconds()/tRun.Seconds(), "ratio_to_download")
			b.ReportMetric(cDown.Seconds()*1e3/float64(b.N), "download_cpu_ms/op")
			b.ReportMetric(cRun.Seconds()*1e3/float64(b.N), "run_cpu_ms/op")
			b.SetBytes(size)
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

// processCPU is the user and system CPU time the process has used.
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	require.NoError(tb, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
