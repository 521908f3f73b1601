package parquetenc

import (
	"bytes"
	"testing"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/formats/internal/fixture"
)

// pageFacts reads every page header of every column chunk with arrow-go's
// page reader and returns, per column name, the versions of its data pages
// (1 or 2) and every encoding seen: the data pages' value and level
// encodings, the dictionary pages' encodings and the column chunk's list.
func pageFacts(t *testing.T, data []byte) (versions map[string]map[int]bool, encodings map[string]map[parquet.Encoding]bool) {
	t.Helper()
	rdr, err := file.NewParquetReader(bytes.NewReader(data))
	require.NoError(t, err)
	defer rdr.Close()
	versions = map[string]map[int]bool{}
	encodings = map[string]map[parquet.Encoding]bool{}
	md := rdr.MetaData()
	for g := range rdr.NumRowGroups() {
		rg := rdr.RowGroup(g)
		for c := range md.Schema.NumColumns() {
			name := md.Schema.Column(c).Name()
			if versions[name] == nil {
				versions[name], encodings[name] = map[int]bool{}, map[parquet.Encoding]bool{}
			}
			cc, err := md.RowGroup(g).ColumnChunk(c)
			require.NoError(t, err)
			for _, e := range cc.Encodings() {
				encodings[name][e] = true
			}
			pr, err := rg.GetColumnPageReader(c)
			require.NoError(t, err)
			if dp, err := pr.GetDictionaryPage(); err == nil && dp != nil {
				encodings[name][parquet.Encoding(dp.Encoding())] = true
			}
			for pr.Next() {
				switch p := pr.Page().(type) {
				case *file.DataPageV1:
					versions[name][1] = true
					encodings[name][parquet.Encoding(p.Encoding())] = true
					encodings[name][p.DefinitionLevelEncoding()] = true
				case *file.DataPageV2:
					versions[name][2] = true
					encodings[name][parquet.Encoding(p.Encoding())] = true
				case *file.DictionaryPage:
					encodings[name][parquet.Encoding(p.Encoding())] = true
				}
			}
			require.NoError(t, pr.Err())
		}
	}
	return versions, encodings
}

// warehouseEncodings are the encodings every warehouse reader (Spark's
// vectorized reader before 3.3, BigQuery, Snowflake, Redshift) decodes.
var warehouseEncodings = map[parquet.Encoding]bool{
	parquet.Encodings.Plain:     true,
	parquet.Encodings.PlainDict: true,
	parquet.Encodings.RLEDict:   true,
	parquet.Encodings.RLE:       true,
	parquet.Encodings.BitPacked: true, // only ever as a level encoding
}

// TestWarehousePages: by default every data page is a v1 page, and every
// encoding in the file (values, levels, dictionaries) is PLAIN, a
// dictionary or RLE: no DELTA_* encodings, which Spark's vectorized reader
// before 3.3 cannot read, and no v2 pages. Dictionary columns included.
func TestWarehousePages(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		data []byte
	}{
		{"typed", encode(t, fixture.Typed(), Options{Location: fixture.Typed().Location})},
		{"wide", encode(t, fixture.Wide(24, 3000), Options{PageBufferBytes: 4 << 10})},
		{"dictionaries", encodeCSV(t, fixture.LookerCSV(3000), Options{Dictionary: DictionaryAll})},
		{"looker", encodeCSV(t, fixture.LookerCSV(3000), Options{})},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			versions, encodings := pageFacts(t, tt.data)
			require.NotEmpty(t, versions)
			for col, v := range versions {
				require.Equal(t, map[int]bool{1: true}, v, "column %s: data page versions", col)
				for e := range encodings[col] {
					require.True(t, warehouseEncodings[e], "column %s: encoding %s", col, e)
				}
			}
		})
	}
}

// TestDataPageV2Option: Options.DataPageVersion 2 writes v2 pages, read
// back equal.
func TestDataPageV2Option(t *testing.T) {
	t.Parallel()
	c := fixture.Typed()
	data := encode(t, c, Options{Location: c.Location, DataPageVersion: 2})
	versions, _ := pageFacts(t, data)
	for col, v := range versions {
		require.Equal(t, map[int]bool{2: true}, v, "column %s", col)
	}
	_, _, got := readBack(t, data)
	requireValues(t, c.Want, got)
}
