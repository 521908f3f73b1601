package rows_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/state/internal/rows"
)

type fakeRows struct {
	vals []int
	i    int
	err  error
}

func (f *fakeRows) Next() bool { f.i++; return f.i <= len(f.vals) }
func (f *fakeRows) Err() error { return f.err }

func scan(f *fakeRows) (int, error) {
	if v := f.vals[f.i-1]; v >= 0 {
		return v, nil
	}
	return 0, errors.New("negative")
}

func TestCollect(t *testing.T) {
	t.Parallel()
	got, err := rows.Collect(&fakeRows{vals: []int{1, 2, 3}}, nil, scan)
	require.NoError(t, err)
	require.Equal(t, []int{1, 2, 3}, got)

	got, err = rows.Collect(&fakeRows{}, nil, scan)
	require.NoError(t, err)
	require.Nil(t, got, "no rows and a nil start stays nil")
	got, err = rows.Collect(&fakeRows{}, []int{}, scan)
	require.NoError(t, err)
	require.NotNil(t, got, "no rows and an empty start stays empty")

	_, err = rows.Collect(&fakeRows{vals: []int{1, -1, 3}}, nil, scan)
	require.EqualError(t, err, "negative")
	_, err = rows.Collect(&fakeRows{vals: []int{1}, err: errors.New("conn reset")}, nil, scan)
	require.EqualError(t, err, "conn reset")
}
