package jobs_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/lookerapi/lookertest"
	"github.com/lookerexport/exporter/state"
)

// TestTypedCSVMatchesJSONBI: a Parquet or JSON lines job left to its
// default result format reads Looker's csv, typed by the query's fields
// (a third of json_bi's bytes), and writes exactly what the same job
// reading json_bi writes: same columns, types, values and nulls. With a
// Looker that writes an empty string and a null alike in csv
// (lookertest.Options.BareEmptyStrings), the empty strings of String
// columns are the one difference: they arrive as null, which the README
// says.
func TestTypedCSVMatchesJSONBI(t *testing.T) {
	t.Parallel()
	at := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, bare := range []bool{false, true} {
		for _, format := range []string{"parquet", "jsonl"} {
			t.Run(format+map[bool]string{false: "/quoted empty", true: "/bare empty"}[bare], func(t *testing.T) {
				t.Parallel()
				b := setupWith(t, lookertest.Options{Rows: 3000, BareEmptyStrings: bare})
				ext := map[string]string{"parquet": "parquet", "jsonl": "jsonl.zst"}[format]
				keys := func(extra string) string {
					return "source: {look_id: '" + lookertest.LookID + "'}\nformat: " + format +
						map[string]string{"parquet": "", "jsonl": "\ncompression: zstd"}[format] + extra +
						"\ndestination: '$DIR/{{ .Job }}/out." + ext + "'"
				}
				out := func(job string) (cols []string, rows [][]string) {
					data, err := os.ReadFile(filepath.Join(b.dir, job, "out."+ext))
					require.NoError(t, err)
					if format == "parquet" {
						return fileCells(t, ext, data) // a null reads "(null)"
					}
					return jsonlCells(t, data)
				}
				variants := []struct{ name, extra, want string }{
					{"typed", "", "csv"},
					{"bi", "\nresult_format: json_bi", "json_bi"},
				}
				if format == "jsonl" {
					// Looker json carries no types: the query's fields
					// type it (lookerapi.Result.Fields), not its first row.
					variants = append(variants, struct{ name, extra, want string }{"json", "\nresult_format: json", "json"})
				}
				for _, j := range variants {
					run, err := b.run(t.Context(), b.job(t, j.name, keys(j.extra)), at, jobs.RunOptions{})
					require.NoError(t, err)
					require.Equal(t, state.Succeeded, run.Status)
					require.EqualValues(t, 3000, run.Rows)
					runs := b.srv.RequestLog("run_look", "run_query")
					require.NotEmpty(t, runs)
					require.True(t, strings.HasSuffix(runs[len(runs)-1].Path, "/run/"+j.want), "%s ran %s", j.name, runs[len(runs)-1].Path)
				}
				biCols, bi := out("bi")
				if format == "jsonl" {
					jsonCols, plain := out("json")
					require.Equal(t, biCols, jsonCols)
					require.Equal(t, bi, plain, "json typed by the query's fields writes what json_bi does")
				}
				cols, typed := out("typed")
				require.Equal(t, biCols, cols)
				noteCol := -1
				for i, c := range cols {
					if strings.Contains(c, "note") {
						noteCol = i
					}
				}
				require.GreaterOrEqual(t, noteCol, 0)
				empties := 0
				for r := range bi {
					if (bi[r][noteCol] == "" || bi[r][noteCol] == `""`) && typed[r][noteCol] != bi[r][noteCol] {
						empties++
						require.True(t, bare, "row %d: an empty string became %q", r+1, typed[r][noteCol])
						typed[r][noteCol] = bi[r][noteCol]
					}
					require.Equal(t, bi[r], typed[r], "row %d", r+1)
				}
				if bare {
					require.Positive(t, empties, "the sample has empty strings, which bare csv reads as null")
				}
			})
		}
	}
}

// jsonlCells reads zstd JSON lines: columns sorted by name, each value its
// JSON text (null is "null", a string is quoted), so nothing is lost.
func jsonlCells(t *testing.T, data []byte) (cols []string, rows [][]string) {
	t.Helper()
	zr, err := zstd.NewReader(bytes.NewReader(data))
	require.NoError(t, err)
	defer zr.Close()
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var obj map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(sc.Bytes(), &obj))
		if cols == nil {
			cols = slices.Sorted(maps.Keys(obj))
		}
		row := make([]string, len(cols))
		for i, k := range cols {
			row[i] = string(obj[k])
		}
		rows = append(rows, row)
	}
	require.NoError(t, sc.Err())
	return cols, rows
}
