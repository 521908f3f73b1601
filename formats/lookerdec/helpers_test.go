package lookerdec

import (
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/formats"
)

// cell is a test view of a formats.Cell: nil means null.
type cell = *string

func s(v string) cell { return &v }

// readAll drains a reader into copied rows; it stops at the first error.
func readAll(r formats.RowReader) ([][]cell, error) {
	var out [][]cell
	for {
		row, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		if len(row) != len(r.Schema().Fields) {
			return out, errors.New("row length differs from the schema")
		}
		cp := make([]cell, len(row))
		for i, c := range row {
			if !c.Null {
				cp[i] = s(string(c.Value))
			} else if len(c.Value) != 0 {
				return out, errors.New("null cell with a value")
			}
		}
		out = append(out, cp)
	}
}

func requireRows(t *testing.T, want, got [][]cell) {
	t.Helper()
	require.Len(t, got, len(want))
	for i := range want {
		require.Len(t, got[i], len(want[i]), "row %d", i+1)
		for j := range want[i] {
			if want[i][j] == nil {
				require.Nil(t, got[i][j], "row %d col %d should be null", i+1, j)
				continue
			}
			require.NotNil(t, got[i][j], "row %d col %d should not be null", i+1, j)
			require.Equal(t, *want[i][j], *got[i][j], "row %d col %d", i+1, j)
		}
	}
}

// readers returns the ways a body is fed to a decoder: whole, one byte per
// Read, and in odd-sized chunks, so buffer boundaries fall everywhere.
func readers(body string) map[string]func() io.Reader {
	return map[string]func() io.Reader{
		"whole":   func() io.Reader { return stringsReader(body) },
		"onebyte": func() io.Reader { return &chunkReader{data: []byte(body), n: 1} },
		"chunk7":  func() io.Reader { return &chunkReader{data: []byte(body), n: 7} },
	}
}

type chunkReader struct {
	data []byte
	n    int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := min(c.n, len(p), len(c.data))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

func stringsReader(s string) io.Reader { return &chunkReader{data: []byte(s), n: len(s) + 1} }
