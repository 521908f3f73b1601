package jobs_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/sinks/publish"
	"github.com/lookerexport/exporter/state"
)

// readBack fetches a committed file from either sink.
func (b *bundle) readBack(t testing.TB, uri string) []byte {
	t.Helper()
	if name, ok := strings.CutPrefix(uri, "gs://"+bucket+"/"); ok {
		o, err := b.gcs.GetObject(bucket, name)
		require.NoError(t, err)
		return o.Content
	}
	data, err := os.ReadFile(strings.TrimPrefix(uri, "file://"))
	require.NoError(t, err)
	return data
}

// parquetCells reads a Parquet file with arrow-go and returns its column
// names and every cell as text, row by row.
func parquetCells(t *testing.T, data []byte) (cols []string, rows [][]string) {
	t.Helper()
	tbl, err := arrowFile(t, data).ReadTable(context.Background())
	require.NoError(t, err)
	defer tbl.Release()
	rows = make([][]string, tbl.NumRows())
	for c := 0; c < int(tbl.NumCols()); c++ {
		col := tbl.Column(c)
		cols = append(cols, col.Name())
		r := 0
		for _, chunk := range col.Data().Chunks() {
			for i := 0; i < chunk.Len(); i++ {
				rows[r] = append(rows[r], chunk.ValueStr(i))
				r++
			}
		}
	}
	return cols, rows
}

// csvGzRows decompresses a gzip CSV file (one compressed stream) and
// returns its header and records.
func csvGzRows(t *testing.T, data []byte) (header []string, rows [][]string) {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	require.NoError(t, err)
	zr.Multistream(false) // one compressed stream per file
	text, err := io.ReadAll(zr)
	require.NoError(t, err)
	_, err = zr.Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF)
	records, err := csv.NewReader(bytes.NewReader(text)).ReadAll()
	require.NoError(t, err)
	require.NotEmpty(t, records, "a header at least")
	return records[0], records[1:]
}

// TestSplitRunPublishesPartsAndManifest is bar 3 of issue 5: a run split
// into three parts produces three complete files, then a manifest whose
// rows, sizes and checksums match the files as read back, then _SUCCESS;
// the parts hold exactly the rows of the unsplit run, in order.
func TestSplitRunPublishesPartsAndManifest(t *testing.T) {
	t.Parallel()
	const rows = 2500
	cases := []struct {
		name, format, dir string
	}{
		{"local parquet", "format: parquet", "$DIR/{{ .Job }}/dt={{ date \"2006-01-02\" }}/orders.parquet"},
		{"gcs csv gzip", "format: csv\ncsv_header: names\ncompression: gzip", "gs://" + bucket + "/{{ .Job }}/dt={{ date \"2006-01-02\" }}/orders.csv.gz"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, rows)
			keys := fmt.Sprintf("source: {look_id: '42'}\n%s\ndestination: '%s'", c.format, c.dir)
			split := b.job(t, "split", keys+"\nmax_rows_per_file: 1000")
			whole := b.job(t, "whole", keys)

			run, err := b.run(t.Context(), split, scheduled, jobs.RunOptions{})
			require.NoError(t, err)
			require.Equal(t, state.Succeeded, run.Status)
			require.Equal(t, int64(rows), run.Rows)
			require.Len(t, run.URIs, 3)
			for i, u := range run.URIs {
				require.Contains(t, u, fmt.Sprintf("/split/dt=2026-11-27/orders-part-%05d.", i))
			}
			dir := run.URIs[0][:strings.LastIndex(run.URIs[0], "/")+1]
			var m publish.Manifest
			require.NoError(t, json.Unmarshal(b.readBack(t, dir+"_manifest.json"), &m))
			require.Empty(t, b.readBack(t, dir+"_SUCCESS"))
			require.Equal(t, "split", m.Job)
			require.Equal(t, run.ID, m.RunID)
			require.True(t, m.ScheduledTime.Equal(scheduled))
			require.Equal(t, "42", m.Source.LookID)
			require.Equal(t, int64(rows), m.Rows)
			require.Equal(t, run.Bytes, m.Bytes)
			require.NotEmpty(t, m.Schema)
			require.Len(t, m.Files, 3)

			wholeRun, err := b.run(t.Context(), whole, scheduled, jobs.RunOptions{})
			require.NoError(t, err)
			wholeData := b.readBack(t, wholeRun.URIs[0])

			var got [][]string
			for i, f := range m.Files {
				require.Equal(t, run.URIs[i], f.URI)
				data := b.readBack(t, f.URI)
				require.Equal(t, f.Size, int64(len(data)))
				require.Equal(t, fmt.Sprintf("%08x", crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli))), f.CRC32C)
				sum := sha256.Sum256(data)
				require.Equal(t, hex.EncodeToString(sum[:]), f.SHA256)
				require.Equal(t, []int64{1000, 1000, 500}[i], f.Rows)
				if strings.HasSuffix(f.URI, ".parquet") {
					cols, cells := parquetCells(t, data)
					require.Equal(t, int(f.Rows), len(cells), "rows in %s", f.Name)
					for j, col := range m.Schema {
						require.Equal(t, col.Name, cols[j])
					}
					got = append(got, cells...)
				} else {
					header, records := csvGzRows(t, data)
					require.Equal(t, names(m.Schema), header, "every part repeats the header")
					require.Equal(t, int(f.Rows), len(records), "rows in %s", f.Name)
					got = append(got, records...)
				}
			}
			var want [][]string
			if strings.HasSuffix(wholeRun.URIs[0], ".parquet") {
				_, want = parquetCells(t, wholeData)
			} else {
				_, want = csvGzRows(t, wholeData)
			}
			require.Equal(t, len(want), len(got))
			require.True(t, slices.EqualFunc(want, got, slices.Equal), "the parts hold the unsplit run's rows, in order")
		})
	}
}

func names(cols []publish.Column) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.Name
	}
	return out
}

// TestSplitRunFailureAnnouncesNothing: the connection drops in the third
// part; the parts already committed are removed and neither a manifest
// nor _SUCCESS appears.
func TestSplitRunFailureAnnouncesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t, 5000)
	job := b.job(t, "orders", "source: {look_id: '42'}\nformat: jsonl\nmax_rows_per_file: 100\ndestination: '$DIR/{{ .Job }}/orders.jsonl'")
	b.srv.DropNextRun(250) // in the third part
	run, err := b.run(t.Context(), job, scheduled, jobs.RunOptions{})
	require.Error(t, err)
	require.Equal(t, state.Failed, run.Status)
	require.Empty(t, run.URIs)
	require.Empty(t, b.localFiles(t), "no part, marker or temp file is left")
}

// TestManifestOff: manifest: false writes the data file alone.
func TestManifestOff(t *testing.T) {
	t.Parallel()
	b := setup(t, 10)
	job := b.job(t, "orders", "source: {look_id: '42'}\nformat: csv\nmanifest: false\ndestination: '$DIR/orders.csv'")
	_, err := b.run(t.Context(), job, scheduled, jobs.RunOptions{})
	require.NoError(t, err)
	require.Equal(t, []string{filepath.Join(b.dir, "orders.csv")}, b.localFiles(t))
}
