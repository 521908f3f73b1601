package parquetenc

import (
	"bytes"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/formats/internal/fixture"
)

// TestLeveledValuesMatchLevel: the mirror of parquet.Value's layout is in
// use with this parquet-go, and every value it builds equals the one
// Value.Level builds. If it fails after an upgrade of parquet-go, the
// encoder is still right (it falls back to Value.Level) but slower:
// update valueMirror to the new layout.
func TestLeveledValuesMatchLevel(t *testing.T) {
	require.True(t, mirrorOK, "valueMirror no longer matches parquet.Value: see values.go")
	data := []byte("a longer byte array value")
	for _, s := range layoutSamples(data) {
		for _, col := range []int{0, 2, 11, 255, 256, parquet.MaxColumnIndex} {
			want := viaAPI(s.kind, s.ptr, s.u64).Level(0, 1, col)
			var got parquet.Value
			putLeveled(&got, s.kind, s.ptr, s.u64, col)
			require.Equal(t, want, got, "%v in column %d", s.kind, col)
			require.Equal(t, want.Kind(), got.Kind())
			require.Equal(t, 1, got.DefinitionLevel())
			require.Equal(t, 0, got.RepetitionLevel())
			require.Equal(t, col, got.Column())
			require.False(t, got.IsNull())
		}
	}
}

// TestMirrorAndLevelWriteTheSameFile: every column type, null and not,
// encodes to the same bytes whether values are built on the mirror or by
// Value.Level (the fallback when the layout does not match).
func TestMirrorAndLevelWriteTheSameFile(t *testing.T) {
	decSchema, decRows, _ := decimalCase()
	for _, c := range []fixture.Case{fixture.Typed(), {Schema: decSchema, Rows: decRows}, fixture.Wide(40, 3000)} {
		require.True(t, mirrorOK)
		mirrored := encode(t, c, Options{Location: c.Location})
		mirrorOK = false
		viaLevel := encode(t, c, Options{Location: c.Location})
		mirrorOK = true
		require.True(t, bytes.Equal(mirrored, viaLevel), "the two ways write different files")
	}
}
