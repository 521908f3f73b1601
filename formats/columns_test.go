package formats

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCheckColumns(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n    int
		want string // "" for no error
	}{
		{0, ""},
		{MaxColumns, ""},
		{MaxColumns + 1, "the result has 10,001 columns; the exporter handles at most 10,000: select fewer fields"},
		{70000, "the result has 70,000 columns"},
		{1234567, "the result has 1,234,567 columns"},
	}
	for _, tt := range tests {
		err := CheckColumns(tt.n)
		if tt.want == "" {
			require.NoError(t, err, tt.n)
			continue
		}
		require.ErrorIs(t, err, ErrTooManyColumns)
		require.ErrorContains(t, err, tt.want)
	}
	err := &ColumnsError{Columns: 10500, AtLeast: true}
	require.ErrorContains(t, err, "the result has at least 10,500 columns")
}
