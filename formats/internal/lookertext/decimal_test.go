package lookertext

import (
	"math/big"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseDecimal(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in        string
		p, s      int
		want, err string // want: AppendDecimal's text
	}{
		{in: "12", p: 18, s: 2, want: "12.00"},
		{in: "-0.5", p: 18, s: 2, want: "-0.50"},
		{in: "1.230", p: 18, s: 2, want: "1.23"},
		{in: "1.234", p: 18, s: 2, err: "more than 2 decimal places"},
		{in: "0.001", p: 18, s: 2, err: "more than 2 decimal places"},
		{in: "1.25e3", p: 18, s: 2, want: "1250.00"},
		{in: "125E-2", p: 18, s: 2, want: "1.25"},
		{in: "125E-3", p: 18, s: 2, err: "decimal places"},
		{in: "+.5", p: 3, s: 1, want: "0.5"},
		{in: "-0", p: 3, s: 1, want: "0.0"},
		{in: "0.000", p: 3, s: 1, want: "0.0"},
		{in: "0e999999", p: 3, s: 1, want: "0.0"},
		{in: "99.9", p: 3, s: 1, want: "99.9"},
		{in: "100", p: 3, s: 1, err: "more than 2 digits before the point"},
		{in: "1e400", p: 38, s: 0, err: "digits before the point"},
		{in: "1e-400", p: 38, s: 9, err: "decimal places"},
		{in: "99999999999999999999999999999999999999", p: 38, s: 0, want: "99999999999999999999999999999999999999"},
		{in: "-9999999999999999999999999999.999999999", p: 38, s: 9, want: "-9999999999999999999999999999.999999999"},
		{in: "999999999999999999999999999999999999990", p: 38, s: 0, err: "digits"},
		{in: "000000000000000000000000000000000000000000000000000000000000000000000000000000000001.5", p: 2, s: 1, want: "1.5"},
		{in: "1.50000000000000000000000000000000000000000000000000000000000000000000000000000000", p: 2, s: 1, want: "1.5"},
		{in: "1.50000000000000000000000000000000000000000000000000000000000000000000000000000001", p: 2, s: 1, err: "decimal places"},
		{in: "", p: 3, s: 1, err: "not a decimal"},
		{in: "-", p: 3, s: 1, err: "not a decimal"},
		{in: ".", p: 3, s: 1, err: "not a decimal"},
		{in: "1.2.3", p: 3, s: 1, err: "not a decimal"},
		{in: "1e", p: 3, s: 1, err: "not a decimal"},
		{in: "NaN", p: 3, s: 1, err: "not a decimal"},
		{in: "1,5", p: 3, s: 1, err: "not a decimal"},
		{in: " 1", p: 3, s: 1, err: "not a decimal"},
	} {
		d, err := ParseDecimal([]byte(tt.in), tt.p, tt.s)
		if tt.err != "" {
			require.ErrorContains(t, err, tt.err, "%q", tt.in)
			require.ErrorIs(t, err, ErrDecimal)
			continue
		}
		require.NoError(t, err, "%q", tt.in)
		require.Equal(t, tt.want, string(AppendDecimal(nil, d, tt.s)), "%q", tt.in)
	}
}

// TestDecimalBigEndian checks the two's complement bytes against math/big.
func TestDecimalBigEndian(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"0", "1", "-1", "127", "-128", "255", "-256", "18446744073709551616", "-18446744073709551616",
		"99999999999999999999999999999999999999", "-99999999999999999999999999999999999999", "-170141183460469231731687303715884105"} {
		d, err := ParseDecimal([]byte(in), 38, 0)
		require.NoError(t, err)
		got := d.AppendBigEndian(nil, 16)
		want, _ := new(big.Int).SetString(in, 10)
		if want.Sign() < 0 {
			want.Add(want, new(big.Int).Lsh(big.NewInt(1), 128))
		}
		wb := want.FillBytes(make([]byte, 16))
		require.Equal(t, wb, got, in)
		if len(in) < 18 {
			n, _ := new(big.Int).SetString(in, 10)
			require.Equal(t, n.Int64(), d.Int64(), in)
		}
	}
}

func BenchmarkParseDecimal(b *testing.B) {
	v := []byte("-12345.67")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseDecimal(v, 18, 2); err != nil {
			b.Fatal(err)
		}
	}
}

func TestParseInteger(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{"12": 12, "-7": -7, "12.0": 12, "12.000": 12, "1.2e1": 12, "1e3": 1000, "-0.0": 0,
		"9223372036854775807": 1<<63 - 1, "-9223372036854775808.0": -1 << 63, "9.223372036854775807e18": 1<<63 - 1} {
		got, err := ParseInteger([]byte(in))
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for in, want := range map[string]error{"12.5": ErrInt, "1e-1": ErrInt, "abc": ErrInt, "": ErrInt,
		"9223372036854775808": ErrRange, "9223372036854775808.0": ErrRange, "1e19": ErrRange, "1e30": ErrRange, "-9223372036854775809.0": ErrRange} {
		_, err := ParseInteger([]byte(in))
		require.ErrorIs(t, err, want, in)
	}
}
