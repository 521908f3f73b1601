package jobs_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/formats"
	"github.com/lookerexport/exporter/formats/compress"
	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/lookerapi/lookertest"
	"github.com/lookerexport/exporter/state"
)

// TestPassthroughIsByteForByte: a csv run's file is Looker's csv byte for
// byte, and its gzip and zstd files are standard streams of those bytes,
// read back with independent decoders (the standard library's gzip, the
// zstd command when installed, else klauspost's decoder). The result spans
// many of the passthrough's chunks.
func TestPassthroughIsByteForByte(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, keys, ext string }{
		{"csv", "format: csv", "csv"},
		{"gzip", "format: csv\ncompression: gzip", "csv.gz"},
		{"zstd", "format: csv\ncompression: zstd", "csv.zst"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const rows = 40_000 // about 6 MB: many chunks
			b := setup(t, rows)
			job := b.job(t, "orders", "source: {look_id: '42'}\n"+tc.keys+"\ndestination: '$DIR/orders."+tc.ext+"'")
			run, err := b.run(context.Background(), job, scheduled, jobs.RunOptions{})
			require.NoError(t, err)
			require.Equal(t, state.Succeeded, run.Status)
			require.EqualValues(t, rows, run.Rows)

			want := newDownloader(t, b.srv).body(t)
			require.Greater(t, len(want), 4<<20)
			got := b.readBack(t, run.URIs[0])
			switch tc.ext {
			case "csv.gz":
				zr, err := gzip.NewReader(bytes.NewReader(got))
				require.NoError(t, err)
				zr.Multistream(false) // exactly one member, then the end
				got, err = io.ReadAll(zr)
				require.NoError(t, err)
			case "csv.zst":
				got = unzstd(t, got)
			}
			require.True(t, bytes.Equal(want, got), "the file differs from Looker's csv (%d bytes, want %d)", len(got), len(want))
		})
	}
}

// unzstd decompresses with the zstd command, or klauspost's decoder when
// it is not installed.
func unzstd(t *testing.T, data []byte) []byte {
	t.Helper()
	if _, err := exec.LookPath("zstd"); err == nil {
		cmd := exec.Command("zstd", "-d", "-c")
		cmd.Stdin = bytes.NewReader(data)
		out, err := cmd.Output()
		require.NoError(t, err)
		return out
	}
	zr, err := zstd.NewReader(bytes.NewReader(data))
	require.NoError(t, err)
	defer zr.Close()
	out, err := io.ReadAll(zr)
	require.NoError(t, err)
	return out
}

// TestPassthroughBadRowPublishesNothing: a record that is not Looker csv
// (here a row with a field too many) fails the run with the row's number,
// wherever it falls, even when the copy ran ahead of the decoder, and
// nothing is published.
func TestPassthroughBadRowPublishesNothing(t *testing.T) {
	t.Parallel()
	const header = "Orders ID,Users Name\n"
	row := strings.Repeat("x", 100)
	for name, bad := range map[string]int{"early": 3, "middle": 30_000, "last": 59_999} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var body strings.Builder
			body.WriteString(header)
			for i := range 60_000 { // about 6 MB
				if i == bad {
					body.WriteString("1,2,3\n")
					continue
				}
				body.WriteString("1," + row + "\n")
			}
			b := setup(t, 1)
			b.runner.Looker = bodyLooker{body.String()}
			job := b.job(t, "orders", "source: {look_id: '42'}\nformat: csv\ncompression: gzip\ndestination: '$DIR/orders.csv.gz'")
			run, err := b.run(context.Background(), job, scheduled, jobs.RunOptions{})
			require.Error(t, err)
			require.Equal(t, state.Failed, run.Status)
			require.Contains(t, run.Error, "read result: ")
			require.Regexp(t, `line \d+`, run.Error)
			require.Empty(t, run.URIs)
			require.Empty(t, b.localFiles(t), "no file, not even a temp file")
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

// pipe streams the body through the command (a compressor writing to its
// standard output) into path, as curl URL | gzip -1 > path would, removes
// it and returns its size.
func (d *downloader) pipe(tb testing.TB, path string, name string, args ...string) int64 {
	tb.Helper()
	body := d.get(tb)
	defer body.Close()
	f, err := os.Create(path)
	require.NoError(tb, err)
	cmd := exec.Command(name, args...)
	cmd.Stdout = f
	stdin, err := cmd.StdinPipe()
	require.NoError(tb, err)
	require.NoError(tb, cmd.Start())
	n, err := io.Copy(stdin, body)
	require.NoError(tb, err)
	require.NoError(tb, stdin.Close())
	require.NoError(tb, cmd.Wait())
	require.NoError(tb, f.Close())
	require.NoError(tb, os.Remove(path))
	return n
}

// compress streams the body through the exporter's compressor for codec
// (formats/compress, at the settings a run uses) into path, and does
// nothing else; it removes the file and returns the body's size.
func (d *downloader) compress(tb testing.TB, path string, codec formats.Compression) int64 {
	tb.Helper()
	body := d.get(tb)
	defer body.Close()
	f, err := os.Create(path)
	require.NoError(tb, err)
	zw, err := compress.NewWriter(f, codec)
	require.NoError(tb, err)
	n, err := io.Copy(zw, body)
	require.NoError(tb, err)
	require.NoError(tb, zw.Close())
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
