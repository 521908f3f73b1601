package lookerdec

import (
	"fmt"
	"strconv"
)

// DecodeError is a malformed-input error.
type DecodeError struct {
	Format  string // "csv", "json" or "json_bi"
	Row     int    // 1-based data row; 0 for the header or metadata
	Line    int    // 1-based line (csv only; 0 when unknown)
	Offset  int64  // byte offset in the body where the problem was found
	Snippet string // a few bytes of input around Offset
	Msg     string
}

func (e *DecodeError) Error() string {
	where := "header"
	switch {
	case e.Row > 0:
		where = "row " + strconv.Itoa(e.Row)
	case e.Format != "csv":
		where = "before the first row"
	}
	s := fmt.Sprintf("decode looker %s: %s", e.Format, where)
	if e.Line > 0 {
		s += fmt.Sprintf(" (line %d, byte %d)", e.Line, e.Offset)
	} else {
		s += fmt.Sprintf(" (byte %d)", e.Offset)
	}
	s += ": " + e.Msg
	if e.Snippet != "" {
		s += fmt.Sprintf(" near %q", e.Snippet)
	}
	return s
}

// LookerError is an error Looker wrote into the result body instead of (or
// after some) rows, e.g. a database error raised while streaming.
type LookerError struct {
	Row     int // 1-based data row the error took the place of
	Message string
}

func (e *LookerError) Error() string {
	return fmt.Sprintf("looker reported an error in the result at row %d: %s; check the query in Looker", e.Row, e.Message)
}

// snippet returns up to n bytes of b around i, for error messages.
func snippet(b []byte, i, n int) string {
	lo := max(i-n/2, 0)
	hi := min(lo+n, len(b))
	if lo > hi {
		return ""
	}
	return string(b[lo:hi])
}
