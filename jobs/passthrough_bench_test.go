package jobs_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
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
// It reports the MB/s of each (of the csv body, compressed or not) and
// ratio_to_download, the run's throughput over the download's.
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
			var body int64
			var tDown, tRun time.Duration
			ctx := context.Background()
			for i := 0; b.Loop(); i++ {
				start := time.Now()
				n := dl.download(b, filepath.Join(tmp, "download.csv"))
				tDown += time.Since(start)
				body = n

				start = time.Now()
				run, err := bn.run(ctx, job, scheduled.Add(time.Duration(i)*time.Minute), jobs.RunOptions{})
				tRun += time.Since(start)
				require.NoError(b, err)
				require.Equal(b, state.Succeeded, run.Status, run.Error)
				require.EqualValues(b, *passthroughRows, run.Rows)
				b.StopTimer()
				require.NoError(b, os.RemoveAll(filepath.Dir(strings.TrimPrefix(run.URIs[0], "file://"))))
				b.StartTimer()
			}
			mb := float64(body) * float64(b.N) / 1e6
			b.ReportMetric(mb/tDown.Seconds(), "download_MB/s")
			b.ReportMetric(mb/tRun.Seconds(), "run_MB/s")
			b.ReportMetric(tDown.Seconds()/tRun.Seconds(), "ratio_to_download")
			b.SetBytes(body)
		})
	}
}

// downloader fetches the Look's csv as a plain HTTP client would.
type downloader struct {
	url, token string
}

func newDownloader(tb testing.TB, srv *lookertest.Server) *downloader {
	tb.Helper()
	form := url.Values{"client_id": {srv.ClientID()}, "client_secret": {srv.ClientSecret()}}
	resp, err := http.PostForm(srv.URL()+"/api/4.0/login", form)
	require.NoError(tb, err)
	defer resp.Body.Close()
	require.Equal(tb, http.StatusOK, resp.StatusCode)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(tb, json.NewDecoder(resp.Body).Decode(&tok))
	return &downloader{url: fmt.Sprintf("%s/api/4.0/looks/%s/run/csv?limit=-1", srv.URL(), lookertest.LookID), token: tok.AccessToken}
}

// get starts the download.
func (d *downloader) get(tb testing.TB) io.ReadCloser {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, d.url, nil)
	require.NoError(tb, err)
	req.Header.Set("Authorization", "token "+d.token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(tb, err)
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		tb.Fatalf("download: %s", resp.Status)
	}
	return resp.Body
}

// download writes the body to path (as curl -o: no fsync), removes it
// and returns its size.
func (d *downloader) download(tb testing.TB, path string) int64 {
	tb.Helper()
	body := d.get(tb)
	defer body.Close()
	f, err := os.Create(path)
	require.NoError(tb, err)
	n, err := io.Copy(f, body)
	require.NoError(tb, err)
	require.NoError(tb, f.Close())
	require.NoError(tb, os.Remove(path))
	return n
}

// body returns the whole body.
func (d *downloader) body(tb testing.TB) []byte {
	tb.Helper()
	body := d.get(tb)
	defer body.Close()
	data, err := io.ReadAll(body)
	require.NoError(tb, err)
	return data
}
