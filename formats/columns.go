package formats

import (
	"errors"
	"strconv"
)

// MaxColumns is the widest result the exporter handles. Decoders check a
// result's width against it before they allocate anything per column, and
// parquetenc refuses a wider schema: far below the 65,535 columns at which
// the Parquet library fails, and far above any useful Looker result.
const MaxColumns = 10000

// ErrTooManyColumns is matched (errors.Is) by every error that refuses a
// result wider than MaxColumns. It is permanent: retrying the same query
// gets the same width.
var ErrTooManyColumns = errors.New("too many columns")

// ColumnsError reports a result wider than MaxColumns. It matches
// ErrTooManyColumns.
type ColumnsError struct {
	// Columns is the result's width, or the width counted so far when
	// AtLeast is set (a decoder stops counting where counting would cost
	// memory).
	Columns int
	AtLeast bool
}

func (e *ColumnsError) Error() string {
	n := groupThousands(e.Columns)
	if e.AtLeast {
		n = "at least " + n
	}
	return "the result has " + n + " columns; the exporter handles at most " + groupThousands(MaxColumns) +
		": select fewer fields in the Look or query (a pivot makes one column per pivot value and measure: pivot on fewer values or filter them), or split the export into several jobs"
}

// Is makes a *ColumnsError match ErrTooManyColumns.
func (e *ColumnsError) Is(target error) bool { return target == ErrTooManyColumns }

// CheckColumns returns a *ColumnsError when n is more than MaxColumns,
// else nil.
func CheckColumns(n int) error {
	if n > MaxColumns {
		return &ColumnsError{Columns: n}
	}
	return nil
}

// groupThousands writes n with commas between groups of three digits.
func groupThousands(n int) string {
	s := strconv.Itoa(n)
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		s = s[1:]
	}
	out := make([]byte, 0, len(s)+len(s)/3+1)
	if neg {
		out = append(out, '-')
	}
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}
