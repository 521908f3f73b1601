package lookertext

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseTimestamp(t *testing.T) {
	t.Parallel()
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	newYork, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	tests := []struct {
		in   string
		loc  *time.Location
		want string // RFC 3339 in UTC, or "" for an error
	}{
		{"2026-03-01 10:15:00", nil, "2026-03-01T10:15:00Z"},
		{"2026-03-01 10:15", nil, "2026-03-01T10:15:00Z"},
		{"2026-03-01", nil, "2026-03-01T00:00:00Z"},
		{"2026-03-01 10:15:00.123456789", nil, "2026-03-01T10:15:00.123456Z"},
		{"2026-03-01 10:15:00.5", nil, "2026-03-01T10:15:00.5Z"},
		{"2026-03-01T10:15:00Z", berlin, "2026-03-01T10:15:00Z"},
		{"2026-03-01T10:15:00+05:30", nil, "2026-03-01T04:45:00Z"},
		{"2026-03-01T10:15:00-0800", nil, "2026-03-01T18:15:00Z"},
		{"1969-12-31 23:59:59.999999", nil, "1969-12-31T23:59:59.999999Z"},
		{"2024-02-29 00:00:00", nil, "2024-02-29T00:00:00Z"},
		{"2026-01-15 12:00:00", berlin, "2026-01-15T11:00:00Z"},
		{"2026-07-15 12:00:00", berlin, "2026-07-15T10:00:00Z"},
		// Skipped hour: read with the offset before the change (CET, +01).
		{"2026-03-29 02:30:00", berlin, "2026-03-29T01:30:00Z"},
		{"2026-03-08 02:30:00", newYork, "2026-03-08T07:30:00Z"},
		// Repeated hour: the earlier instant (summer time).
		{"2026-10-25 02:30:00", berlin, "2026-10-25T00:30:00Z"},
		{"2026-11-01 01:30:00", newYork, "2026-11-01T05:30:00Z"},
		// Right around the changes.
		{"2026-03-29 01:59:59", berlin, "2026-03-29T00:59:59Z"},
		{"2026-03-29 03:00:00", berlin, "2026-03-29T01:00:00Z"},
		{"2026-10-25 03:00:00", berlin, "2026-10-25T02:00:00Z"},
		{"2023-02-29 00:00:00", nil, ""},
		{"2026-13-01 00:00:00", nil, ""},
		{"2026-03-01 24:00:00", nil, ""},
		{"2026-03-01 10:15:60", nil, ""},
		{"2026-03-01 10:15:00.", nil, ""},
		{"2026-03-01 10:15:00.1234567890", nil, ""},
		{"2026-03-01 10:15:00 UTC", nil, ""},
		{"2026-03-01X10:15:00", nil, ""},
		{"03/01/2026", nil, ""},
		{"", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			us, err := NewTimestamps(tt.loc).Parse([]byte(tt.in))
			if tt.want == "" {
				require.ErrorIs(t, err, ErrTimestamp)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, string(FormatTimestamp(nil, us)))
		})
	}
}

func TestTimestampsCacheAcrossChanges(t *testing.T) {
	t.Parallel()
	// One parser walking every 30 minutes through a year must agree with a
	// fresh parser each time (the zone cache must never return a stale
	// offset), and with time.Date outside the change hours.
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	p := NewTimestamps(berlin)
	for wall := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC); wall.Year() == 2026; wall = wall.Add(30 * time.Minute) {
		b := []byte(wall.Format(time.DateTime))
		got, err := p.Parse(b)
		require.NoError(t, err)
		fresh, err := NewTimestamps(berlin).Parse(b)
		require.NoError(t, err)
		require.Equal(t, fresh, got, string(b))
		if wall.Hour() != 2 {
			want := time.Date(wall.Year(), wall.Month(), wall.Day(), wall.Hour(), wall.Minute(), 0, 0, berlin)
			require.Equal(t, want.UnixMicro(), got, string(b))
		}
	}
}

func TestParseDate(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int32{"1970-01-01": 0, "1970-01-02": 1, "1969-12-31": -1, "2026-03-01": 20513, "2000-02-29": 11016, "0001-01-01": -719162} {
		got, err := ParseDate([]byte(in))
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
		require.Equal(t, in, string(FormatDate(nil, got)))
	}
	for _, in := range []string{"2026-02-29", "2026-3-01", "2026-03-01 00:00:00", "", "20260301xx", "2026-00-10", "2026-04-31"} {
		_, err := ParseDate([]byte(in))
		require.ErrorIs(t, err, ErrDate, in)
	}
}

func TestParseIntBoolFloat(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{"0": 0, "-12": -12, "+7": 7, "9223372036854775807": 1<<63 - 1, "-9223372036854775808": -1 << 63, "007": 7} {
		got, err := ParseInt([]byte(in))
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "-", "1.0", "1e3", "9223372036854775808", "-9223372036854775809", "99999999999999999999", " 1", "1,000"} {
		_, err := ParseInt([]byte(in))
		require.Error(t, err, in)
	}
	for in, want := range map[string]bool{"Yes": true, "No": false, "yes": true, "NO": false, "true": true, "FALSE": false, "1": true, "0": false} {
		got, err := ParseBool([]byte(in))
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "y", "2", "yes ", "nope"} {
		_, err := ParseBool([]byte(in))
		require.ErrorIs(t, err, ErrBool, in)
	}
	f, err := ParseFloat([]byte("-12.5e1"))
	require.NoError(t, err)
	require.Equal(t, -125.0, f)
	_, err = ParseFloat([]byte("1,5"))
	require.ErrorIs(t, err, ErrFloat)
	_, err = ParseFloat(nil)
	require.ErrorIs(t, err, ErrFloat)
}

func TestValidJSONNumber(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"0", "-0", "12", "-1.5", "1e9", "1E+9", "2.5e-3"} {
		require.True(t, ValidJSONNumber([]byte(in)), in)
	}
	for _, in := range []string{"", "-", "01", "+1", ".5", "1.", "1e", "NaN", "Inf", "0x10", "1_0", "1.5.5"} {
		require.False(t, ValidJSONNumber([]byte(in)), in)
	}
	require.True(t, IsIntLiteral([]byte("-12")))
	require.False(t, IsIntLiteral([]byte("12.0")))
	require.False(t, IsIntLiteral([]byte("1e2")))
}

func TestParseWall(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want string // FormatWall of the result, or the error
	}{
		{"2026-03-01 10:15:00", "2026-03-01T10:15:00"},
		{"2026-03-01 10:15", "2026-03-01T10:15:00"},
		{"2026-03-01", "2026-03-01T00:00:00"},
		{"2026-03-01 10:15:00.5", "2026-03-01T10:15:00.5"},
		{"2026-03-01 10:15:00.123456789", "2026-03-01T10:15:00.123456"},
		{"2026-03-01T10:15:00.000001", "2026-03-01T10:15:00.000001"},
		{"1969-12-31 23:59:59.999999", "1969-12-31T23:59:59.999999"},
		// Wall clocks that a DST change skips or repeats in some zone are
		// just wall clocks: nothing moves.
		{"2026-03-29 02:30:00", "2026-03-29T02:30:00"},
		{"2026-11-01 01:30:00", "2026-11-01T01:30:00"},
		{"2026-03-01T10:15:00Z", ErrWallOffset.Error()},
		{"2026-03-01 10:15:00+01:00", ErrWallOffset.Error()},
		{"2026-03-01 10:15:00 UTC", ErrTimestamp.Error()},
		{"2026-02-30 10:15:00", ErrTimestamp.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			us, err := ParseWall([]byte(tt.in))
			if err != nil {
				require.EqualError(t, err, tt.want)
				return
			}
			require.Equal(t, tt.want, string(FormatWall(nil, us)))
		})
	}
}

// TestParseFloatMatchesStrconv: the short-decimal fast path returns
// exactly strconv.ParseFloat's float64, bit for bit (the sign of zero
// too), and leaves everything else to it.
func TestParseFloatMatchesStrconv(t *testing.T) {
	cases := []string{"0", "-0", "0.0", "-0.000", "1", "-1", "12.5", "0.1", "0.3", "123456789012345", "-123456789012345",
		"1234567890123456", "9007199254740993", "0.000000000000001", "0.0000000000000001", "99999999999999.9", "1.000000000000001",
		"5.", ".5", "-", "-.", ".", "1.2.3", "+1", "1e5", "-12.5e1", "inf", "NaN", "1_000", "0x10", "1,5", "00012.50", "4.35", "2.675"}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		digits := 1 + rng.IntN(17)
		var sb strings.Builder
		if rng.IntN(2) == 0 {
			sb.WriteByte('-')
		}
		dot := rng.IntN(digits + 1)
		for i := range digits {
			if i == dot && i > 0 {
				sb.WriteByte('.')
			}
			sb.WriteByte(byte('0' + rng.IntN(10)))
		}
		cases = append(cases, sb.String())
	}
	for _, s := range cases {
		want, wantErr := strconv.ParseFloat(s, 64)
		got, err := ParseFloat([]byte(s))
		if wantErr != nil {
			require.ErrorIs(t, err, ErrFloat, "%q", s)
			continue
		}
		require.NoError(t, err, "%q", s)
		require.Equal(t, math.Float64bits(want), math.Float64bits(got), "%q: strconv %v, ParseFloat %v", s, want, got)
	}
	_, ok := parseShortDecimal([]byte("12.5"))
	require.True(t, ok, "the fast path is taken")
}

func FuzzParseFloat(f *testing.F) {
	for _, s := range []string{"12.5", "-0", "1e5", "0.1", "123456789012345.6"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, wantErr := strconv.ParseFloat(s, 64)
		got, err := ParseFloat([]byte(s))
		if wantErr != nil || s == "" {
			if err == nil {
				t.Fatalf("%q: strconv fails (%v), ParseFloat gives %v", s, wantErr, got)
			}
			return
		}
		if err != nil || math.Float64bits(want) != math.Float64bits(got) {
			t.Fatalf("%q: strconv %v, ParseFloat %v (%v)", s, want, got, err)
		}
	})
}
