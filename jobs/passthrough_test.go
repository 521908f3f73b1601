package jobs_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os/exec"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/jobs"
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
