// Package lookertext parses the textual values Looker sends (see
// formats.Cell) into typed values. It is shared by the typed encoders
// (formats/jsonl, formats/parquetenc) so they agree on what is valid.
//
// Every parser works on []byte without allocating on success.
package lookertext

import (
	"errors"
	"math"
	"strconv"
	"time"
	"unsafe"
)

// Errors returned by the parsers; callers wrap them with the column, value
// and row.
var (
	ErrInt       = errors.New("not an integer")
	ErrRange     = errors.New("integer out of int64 range")
	ErrFloat     = errors.New("not a number")
	ErrBool      = errors.New("not a boolean (want Yes/No, true/false or 1/0)")
	ErrDate      = errors.New("not a date (want YYYY-MM-DD)")
	ErrTimestamp = errors.New("not a timestamp (want YYYY-MM-DD HH:MM[:SS[.ffffff]], optionally with T and a Z/±HH:MM offset)")
)

// ParseInt parses an optionally signed decimal integer.
func ParseInt(b []byte) (int64, error) {
	if len(b) == 0 {
		return 0, ErrInt
	}
	neg := false
	i := 0
	switch b[0] {
	case '-':
		neg = true
		i = 1
	case '+':
		i = 1
	}
	if i == len(b) {
		return 0, ErrInt
	}
	var u uint64
	for ; i < len(b); i++ {
		c := b[i] - '0'
		if c > 9 {
			return 0, ErrInt
		}
		if u > (1<<63)/10 {
			return 0, ErrRange
		}
		u = u*10 + uint64(c)
		if u > 1<<63 {
			return 0, ErrRange
		}
	}
	if neg {
		return -int64(u), nil // -(1<<63) wraps to itself: MinInt64
	}
	if u > 1<<63-1 {
		return 0, ErrRange
	}
	return int64(u), nil
}

// ParseFloat parses a decimal number the way strconv.ParseFloat does.
func ParseFloat(b []byte) (float64, error) {
	if len(b) == 0 {
		return 0, ErrFloat
	}
	if f, ok := parseShortDecimal(b); ok {
		return f, nil
	}
	// strconv does not retain its argument (errors copy it), so a
	// zero-copy view is safe and keeps the hot path allocation free.
	f, err := strconv.ParseFloat(unsafe.String(&b[0], len(b)), 64)
	if err != nil {
		return 0, ErrFloat
	}
	return f, nil
}

// exactPow10 are the powers of ten a float64 holds exactly.
var exactPow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// parseShortDecimal parses what most of Looker's numbers look like,
// [-]digits[.digits] with at most 15 digits in all, without strconv's
// general machinery: the digits as an integer m < 10^15 < 2^53 and the
// number of decimals k <= 15 are both exact in a float64, so m / 10^k is
// the correctly rounded quotient, which is what strconv.ParseFloat
// returns (Clinger's fast path). Anything else reports false.
func parseShortDecimal(b []byte) (float64, bool) {
	neg := b[0] == '-'
	if neg {
		b = b[1:]
	}
	var m uint64
	digits, decimals, dot := 0, 0, -1
	for i, c := range b {
		switch {
		case c >= '0' && c <= '9':
			m = m*10 + uint64(c-'0')
			digits++
		case c == '.' && dot < 0:
			dot = i
		default:
			return 0, false
		}
	}
	if dot >= 0 {
		decimals = len(b) - dot - 1
		if dot == 0 || decimals == 0 { // ".5", "5.": strconv's to judge
			return 0, false
		}
	}
	if digits == 0 || digits > 15 {
		return 0, false
	}
	f := float64(m) / exactPow10[decimals]
	if neg {
		f = -f
	}
	return f, true
}

// ParseBool accepts Yes/No, true/false (any case) and 1/0.
func ParseBool(b []byte) (bool, error) {
	switch len(b) {
	case 1:
		switch b[0] {
		case '1':
			return true, nil
		case '0':
			return false, nil
		}
	case 2:
		if lower(b[0]) == 'n' && lower(b[1]) == 'o' {
			return false, nil
		}
	case 3:
		if lower(b[0]) == 'y' && lower(b[1]) == 'e' && lower(b[2]) == 's' {
			return true, nil
		}
	case 4:
		if lower(b[0]) == 't' && lower(b[1]) == 'r' && lower(b[2]) == 'u' && lower(b[3]) == 'e' {
			return true, nil
		}
	case 5:
		if lower(b[0]) == 'f' && lower(b[1]) == 'a' && lower(b[2]) == 'l' && lower(b[3]) == 's' && lower(b[4]) == 'e' {
			return false, nil
		}
	}
	return false, ErrBool
}

func lower(c byte) byte { return c | 0x20 }

// ParseDate parses "YYYY-MM-DD" and returns the days since 1970-01-01.
func ParseDate(b []byte) (int32, error) {
	if len(b) != 10 {
		return 0, ErrDate
	}
	y, m, d, ok := parseYMD(b)
	if !ok {
		return 0, ErrDate
	}
	return int32(daysFromCivil(y, m, d)), nil
}

// FormatDate appends days since 1970-01-01 as "YYYY-MM-DD".
func FormatDate(dst []byte, days int32) []byte {
	return time.Unix(int64(days)*86400, 0).UTC().AppendFormat(dst, time.DateOnly)
}

// Timestamps parses Looker time values into microseconds since the Unix
// epoch, UTC, reading wall times in one location. It caches the location's
// current zone period, so keep one per column or encoder; it is not safe for
// concurrent use.
type Timestamps struct {
	loc *time.Location
	// cached zone period [start, end) in Unix seconds with its offset, valid
	// when ok.
	start, end int64
	off        int64
	ok         bool
}

// NewTimestamps returns a parser reading wall times in loc (nil means UTC).
func NewTimestamps(loc *time.Location) *Timestamps {
	if loc == nil {
		loc = time.UTC
	}
	return &Timestamps{loc: loc}
}

// Parse parses a Looker time value.
//
// Accepted: "YYYY-MM-DD", "YYYY-MM-DD HH:MM", "YYYY-MM-DD HH:MM:SS" with an
// optional fraction of 1 to 9 digits (truncated to microseconds), 'T'
// instead of the space, and an optional "Z" or ±HH:MM (or ±HHMM) offset.
// Without an offset the wall time is read in the parser's location.
//
// Wall times that a DST change skips or repeats follow one rule for every
// zone (the one java.time uses): a skipped wall time is read with the
// offset in force before the change, so it lands after the gap, shifted by
// the gap's length (2026-03-29 02:30 in Europe/Berlin is 01:30 UTC, shown as
// 03:30 CEST); a repeated wall time takes the earlier of its two instants
// (2026-10-25 02:30 in Europe/Berlin is 00:30 UTC, the CEST one). In
// America/New_York, 2026-03-08 02:30 is 07:30 UTC (as 03:30 EDT) and
// 2026-11-01 01:30 is 05:30 UTC (EDT). Go's time.Date is not used: its
// choice depends on the sign of the zone's offset (it puts the New York
// gap time before the gap, 06:30 UTC, but the Berlin one after it, and
// takes the later instant of a Berlin fold but the earlier of a New York
// one). Looker's text cannot tell the two instants of a fold apart; this
// rule at least gives every zone the same answer.
func (p *Timestamps) Parse(b []byte) (int64, error) {
	wall, micros, rest, err := parseWall(b)
	if err != nil {
		return 0, err
	}
	if len(rest) > 0 {
		off, ok := parseOffset(rest)
		if !ok {
			return 0, ErrTimestamp
		}
		return (wall-int64(off))*1e6 + micros, nil
	}
	if p.loc == time.UTC {
		return wall*1e6 + micros, nil
	}
	return p.resolve(wall)*1e6 + micros, nil
}

// ParseWall parses a wall-clock time (a convert_tz: no field) in the forms
// Timestamps.Parse takes, without an offset, and returns its microseconds
// since 1970-01-01 00:00:00 of the same calendar: the wall clock as it
// reads, in no zone. A value with an offset is ErrWallOffset: it names an
// instant, not a wall-clock time.
func ParseWall(b []byte) (int64, error) {
	wall, micros, rest, err := parseWall(b)
	if err != nil {
		return 0, err
	}
	if len(rest) > 0 {
		if _, ok := parseOffset(rest); ok {
			return 0, ErrWallOffset
		}
		return 0, ErrTimestamp
	}
	return wall*1e6 + micros, nil
}

// ErrWallOffset is a zone offset on a wall-clock time.
var ErrWallOffset = errors.New("has a time zone offset, but the field is a wall-clock time (convert_tz: no) that Looker sends without one")

// FormatWall appends wall-clock micros (see ParseWall) as
// "2006-01-02T15:04:05", with up to six fraction digits when non-zero
// (trailing zeros dropped, as FormatTimestamp does) and no offset.
func FormatWall(dst []byte, micros int64) []byte {
	return time.UnixMicro(micros).UTC().AppendFormat(dst, "2006-01-02T15:04:05.999999")
}

// parseWall parses the date and time of a Looker time value into seconds
// of the wall clock as if it were UTC and microseconds; rest is what
// follows the time (an offset, or nothing).
func parseWall(b []byte) (wall, micros int64, rest []byte, err error) {
	if len(b) < 10 {
		return 0, 0, nil, ErrTimestamp
	}
	y, mo, d, ok := parseYMD(b)
	if !ok {
		return 0, 0, nil, ErrTimestamp
	}
	var h, mi, s, nanos int
	rest = b[10:]
	if len(rest) > 0 {
		if rest[0] != ' ' && rest[0] != 'T' || len(rest) < 6 || rest[3] != ':' {
			return 0, 0, nil, ErrTimestamp
		}
		var ok1, ok2 bool
		h, ok1 = two(rest[1], rest[2])
		mi, ok2 = two(rest[4], rest[5])
		if !ok1 || !ok2 || h > 23 || mi > 59 {
			return 0, 0, nil, ErrTimestamp
		}
		rest = rest[6:]
		if len(rest) >= 3 && rest[0] == ':' {
			s, ok1 = two(rest[1], rest[2])
			if !ok1 || s > 59 {
				return 0, 0, nil, ErrTimestamp
			}
			rest = rest[3:]
			if len(rest) > 0 && rest[0] == '.' {
				rest = rest[1:]
				n := 0
				for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
					n++
				}
				if n == 0 || n > 9 {
					return 0, 0, nil, ErrTimestamp
				}
				for i := 0; i < 9; i++ {
					nanos *= 10
					if i < n {
						nanos += int(rest[i] - '0')
					}
				}
				rest = rest[n:]
			}
		}
	}
	return utcSeconds(y, mo, d, h, mi, s), int64(nanos / 1000), rest, nil
}

const day = 86400

// resolve turns a wall time (seconds, as if UTC) into an instant in p.loc.
func (p *Timestamps) resolve(wall int64) int64 {
	if p.ok {
		// Fast path: no zone change within a day either side.
		if i := wall - p.off; i-day >= p.start && i+day < p.end {
			return i
		}
	}
	offBefore := p.offsetAt(wall - day)
	offAfter := p.offsetAt(wall + day)
	early, late := wall-offBefore, wall-offAfter
	earlyOK := p.offsetAt(early) == offBefore
	lateOK := p.offsetAt(late) == offAfter
	switch {
	case earlyOK && lateOK:
		return min(early, late) // repeated wall time: the first instant
	case lateOK:
		return late
	default: // earlyOK, or a skipped wall time: the offset before the change
		p.offsetAt(early) // leave the cache on the period of the result
		return early
	}
}

// offsetAt returns the offset in force at instant unix and caches the zone
// period around it.
func (p *Timestamps) offsetAt(unix int64) int64 {
	t := time.Unix(unix, 0).In(p.loc)
	_, off := t.Zone()
	start, end := t.ZoneBounds()
	p.off = int64(off)
	p.start, p.end = math.MinInt64, math.MaxInt64
	if !start.IsZero() {
		p.start = start.Unix()
	}
	if !end.IsZero() {
		p.end = end.Unix()
	}
	p.ok = true
	return p.off
}

// parseOffset parses "Z", "±HH:MM" or "±HHMM" and returns seconds east of
// UTC.
func parseOffset(b []byte) (int, bool) {
	if len(b) == 1 && (b[0] == 'Z' || b[0] == 'z') {
		return 0, true
	}
	var sign int
	switch {
	case len(b) == 0:
		return 0, false
	case b[0] == '+':
		sign = 1
	case b[0] == '-':
		sign = -1
	default:
		return 0, false
	}
	var hh, mm int
	var ok1, ok2 bool
	switch len(b) {
	case 6:
		if b[3] != ':' {
			return 0, false
		}
		hh, ok1 = two(b[1], b[2])
		mm, ok2 = two(b[4], b[5])
	case 5:
		hh, ok1 = two(b[1], b[2])
		mm, ok2 = two(b[3], b[4])
	default:
		return 0, false
	}
	if !ok1 || !ok2 || hh > 23 || mm > 59 {
		return 0, false
	}
	return sign * (hh*3600 + mm*60), true
}

// FormatTimestamp appends micros since the epoch as RFC 3339 in UTC with
// microseconds when non-zero ("2026-03-01T10:15:00Z",
// "2026-03-01T10:15:00.123456Z").
func FormatTimestamp(dst []byte, micros int64) []byte {
	return time.UnixMicro(micros).UTC().AppendFormat(dst, time.RFC3339Nano)
}

func parseYMD(b []byte) (y, m, d int, ok bool) {
	if b[4] != '-' || b[7] != '-' {
		return 0, 0, 0, false
	}
	y1, ok1 := two(b[0], b[1])
	y2, ok2 := two(b[2], b[3])
	m, ok3 := two(b[5], b[6])
	d, ok4 := two(b[8], b[9])
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return 0, 0, 0, false
	}
	y = y1*100 + y2
	if m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return 0, 0, 0, false
	}
	return y, m, d, true
}

func two(a, b byte) (int, bool) {
	a -= '0'
	b -= '0'
	if a > 9 || b > 9 {
		return 0, false
	}
	return int(a)*10 + int(b), true
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns days since 1970-01-01 for a proleptic Gregorian
// date (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

func utcSeconds(y, mo, d, h, mi, s int) int64 {
	return daysFromCivil(y, mo, d)*day + int64(h*3600+mi*60+s)
}

// ValidJSONNumber reports whether b is a number literal in JSON's grammar
// (RFC 8259): -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func ValidJSONNumber(b []byte) bool {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	return i == len(b)
}

// IsIntLiteral reports whether b is a JSON number literal without fraction
// or exponent.
func IsIntLiteral(b []byte) bool {
	if !ValidJSONNumber(b) {
		return false
	}
	for _, c := range b {
		if c == '.' || c == 'e' || c == 'E' {
			return false
		}
	}
	return true
}
