package formats_test

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/formats"
	"github.com/lookerexport/exporter/formats/lookerdec"
)

// validPrefixes holds every proper prefix (1 to 3 bytes) of the UTF-8
// encoding of a scalar value: the independent definition of "the start of
// a well-formed sequence" the oracle works from.
var validPrefixes = sync.OnceValue(func() map[string]bool {
	m := make(map[string]bool)
	var b [utf8.UTFMax]byte
	for r := rune(0x80); r <= utf8.MaxRune; r++ {
		if r >= 0xD800 && r <= 0xDFFF {
			continue
		}
		n := utf8.EncodeRune(b[:], r)
		for k := 1; k < n; k++ {
			m[string(b[:k])] = true
		}
	}
	return m
})

// sanitize is the oracle: at each invalid position, the longest prefix of
// a well-formed sequence (at least one byte) becomes one U+FFFD.
func sanitize(in []byte) ([]byte, int64) {
	prefixes := validPrefixes()
	var out []byte
	var n int64
	for i := 0; i < len(in); {
		if r, size := utf8.DecodeRune(in[i:]); r != utf8.RuneError || size > 1 {
			out = append(out, in[i:i+size]...)
			i += size
			continue
		}
		l := 1
		for k := 2; k < utf8.UTFMax && i+k <= len(in); k++ {
			if prefixes[string(in[i:i+k])] {
				l = k
			}
		}
		out = append(out, "\uFFFD"...)
		n++
		i += l
	}
	return out, n
}

// chunks reads data through r in reads of the given sizes (cycled), with
// the underlying reader returning at most under bytes per Read.
func readChunked(t testing.TB, data []byte, under []int, bufSizes []int) ([]byte, int64) {
	t.Helper()
	u := formats.NewUTF8Reader(&sizedReader{data: data, sizes: under})
	var out []byte
	for i := 0; ; i++ {
		buf := make([]byte, bufSizes[i%len(bufSizes)])
		n, err := u.Read(buf)
		out = append(out, buf[:n]...)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if i > 10*len(data)+100 {
			t.Fatal("no progress")
		}
	}
	return out, u.Replaced()
}

// sizedReader returns data in reads of sizes[i % len(sizes)] bytes (0 is a
// read of nothing).
type sizedReader struct {
	data  []byte
	sizes []int
	i     int
}

func (s *sizedReader) Read(p []byte) (int, error) {
	if len(s.data) == 0 {
		return 0, io.EOF
	}
	n := min(s.sizes[s.i%len(s.sizes)], len(p), len(s.data))
	s.i++
	copy(p, s.data[:n])
	s.data = s.data[n:]
	return n, nil
}

func TestUTF8Reader(t *testing.T) {
	t.Parallel()
	const R = "\uFFFD"
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"ascii", "a,b\n1,2\n", "a,b\n1,2\n"},
		{"valid multibyte", "Zoë 東京 🎉 \u2028 \U0010FFFF", "Zoë 東京 🎉 \u2028 \U0010FFFF"},
		{"BOM kept", "\xef\xbb\xbfA", "\xef\xbb\xbfA"},
		{"lone continuation", "a\x80b", "a" + R + "b"},
		{"two continuations", "\x80\xbf", R + R},
		{"latin-1 e acute", "caf\xe9", "caf" + R},
		{"latin-1 inside text", "caf\xe9 ok", "caf" + R + " ok"},
		{"truncated 2-byte at end", "a\xc3", "a" + R},
		{"truncated 3-byte is one", "\xe2\x82A", R + "A"},
		{"truncated 4-byte is one", "\xf0\x9f\x98A", R + "A"},
		{"truncated 4-byte at end", "\xf0\x9f\x98", R},
		{"overlong 2-byte", "\xc0\xaf", R + R},
		{"overlong 3-byte", "\xe0\x80\xaf", R + R + R},
		{"overlong 4-byte", "\xf0\x80\x80\xaf", R + R + R + R},
		{"surrogate", "\xed\xa0\x80", R + R + R},
		{"above U+10FFFF", "\xf4\x90\x80\x80", R + R + R + R},
		{"F5 and FF", "\xf5\xff", R + R},
		// Unicode Standard, Table 3-8 (U+FFFD for non-shortest forms, ill-formed sequences).
		{"unicode table 3-8", "\x61\xf1\x80\x80\xe1\x80\xc2\x62\x80\x63\x80\xbf\x64", "a" + R + R + R + "b" + R + "c" + R + R + "d"},
		{"valid after invalid lead", "\xe2\xe2\x82\xac", R + "€"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			oracle, wantN := sanitize([]byte(tt.in))
			require.Equal(t, tt.want, string(oracle), "the oracle agrees with the table")
			for name, r := range map[string]io.Reader{
				"whole":    strings.NewReader(tt.in),
				"onebyte":  iotest.OneByteReader(strings.NewReader(tt.in)),
				"dataerr":  iotest.DataErrReader(strings.NewReader(tt.in)),
				"halfread": iotest.HalfReader(strings.NewReader(tt.in)),
			} {
				u := formats.NewUTF8Reader(r)
				got, err := io.ReadAll(u)
				require.NoError(t, err, name)
				require.Equal(t, tt.want, string(got), name)
				require.Equal(t, wantN, u.Replaced(), name)
			}
			for _, bufSize := range []int{1, 2, 3, 5, 63, 64, 65, 4096} {
				got, n := readChunked(t, []byte(tt.in), []int{1, 0, 2, 3}, []int{bufSize})
				require.Equal(t, tt.want, string(got), "buffer %d", bufSize)
				require.Equal(t, wantN, n)
			}
		})
	}
}

// TestUTF8ReaderChunking: whatever the chunking of the input and the size
// of the caller's buffers, the output is the oracle's.
func TestUTF8ReaderChunking(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	pieces := []string{"a", "ab,c\n", "é", "€", "🎉", "東", "\x80", "\xc3", "\xe2\x82", "\xf0\x9f\x98", "\xed\xa0\x80", "\xc0\xaf", "\xff", "\xf4\x90"}
	for range 2000 {
		var b []byte
		for range rng.IntN(200) {
			b = append(b, pieces[rng.IntN(len(pieces))]...)
		}
		want, wantN := sanitize(b)
		under := make([]int, 1+rng.IntN(5))
		for i := range under {
			under[i] = rng.IntN(9)
		}
		under[0] = max(under[0], 1)
		bufs := []int{1 + rng.IntN(8), 64 + rng.IntN(64), 1 + rng.IntN(300)}
		got, n := readChunked(t, b, under, bufs)
		require.Equal(t, string(want), string(got), "input %q, reads %v, buffers %v", b, under, bufs)
		require.Equal(t, wantN, n)
		require.True(t, utf8.Valid(got))
	}
}

func TestUTF8ReaderError(t *testing.T) {
	t.Parallel()
	boom := errors.New("connection reset")
	// An error ends the input: a sequence left unfinished is replaced
	// before the error is returned.
	u := formats.NewUTF8Reader(io.MultiReader(strings.NewReader("ok\xe2\x82"), iotest.ErrReader(boom)))
	got, err := io.ReadAll(u)
	require.ErrorIs(t, err, boom)
	require.Equal(t, "ok\uFFFD", string(got))
	require.Equal(t, int64(1), u.Replaced())
}

func FuzzUTF8Reader(f *testing.F) {
	for _, seed := range []string{"", "abc", "Zoë 🎉", "\x80", "\xe2\x82A", "\xf0\x9f\x98", "\xed\xa0\x80",
		"\x61\xf1\x80\x80\xe1\x80\xc2\x62\x80\x63\x80\xbf\x64", "caf\xe9,\"x\"\n"} {
		f.Add([]byte(seed), uint8(1), uint8(3))
		f.Add([]byte(seed), uint8(7), uint8(64))
	}
	f.Fuzz(func(t *testing.T, in []byte, read, buf uint8) {
		want, wantN := sanitize(in)
		got, n := readChunked(t, in, []int{int(read%16) + 1, int(read / 16)}, []int{int(buf) + 1, 100})
		require.Equal(t, string(want), string(got))
		require.Equal(t, wantN, n)
		require.True(t, utf8.Valid(got))
		if utf8.Valid(in) {
			require.Equal(t, string(in), string(got), "valid input passes unchanged")
			require.Zero(t, n)
		}
	})
}

func BenchmarkUTF8Reader(b *testing.B) {
	ascii := bytes.Repeat([]byte("1234,complete,alice@example.com,2026-03-01 10:15:00,Some note here\n"), 16<<10)
	mixed := bytes.Repeat([]byte("1234,Zoë Müller,東京 🎉,2026-03-01 10:15:00,a note\n"), 16<<10)
	invalid := bytes.Repeat([]byte("1234,caf\xe9,M\xfcller,2026-03-01 10:15:00,a note\n"), 16<<10)
	for _, bc := range []struct {
		name string
		data []byte
	}{{"ascii", ascii}, {"multibyte", mixed}, {"latin1", invalid}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.data)))
			buf := make([]byte, 64<<10)
			r := bytes.NewReader(bc.data)
			for b.Loop() {
				r.Reset(bc.data)
				u := formats.NewUTF8Reader(r)
				for {
					_, err := u.Read(buf)
					if err != nil {
						break
					}
				}
			}
		})
	}
}

// TestInvalidUTF8ToParquet: a Looker body with invalid UTF-8 in a value,
// read through a UTF8Reader, gives a Parquet STRING column of valid UTF-8
// with U+FFFD where the bad bytes were (without the reader, the bytes
// would be written raw), for csv and json_bi alike.
func TestInvalidUTF8ToParquet(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		body string
		open func(io.Reader) (formats.RowReader, error)
	}{
		{"csv", "Users Name,Users City\ncaf\xe9,M\xfcnchen\nZoë,\xe2\x82\n", lookerdec.NewCSV},
		{"json_bi", `{"metadata":{"fields":{"dimensions":[{"name":"users.name","type":"string"},{"name":"users.city","type":"string"}]}},"rows":[` +
			"{\"users.name\":\"caf\xe9\",\"users.city\":\"M\xfcnchen\"},{\"users.name\":\"Zoë\",\"users.city\":\"\xe2\x82\"}]}", lookerdec.NewJSONBI},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u := formats.NewUTF8Reader(strings.NewReader(tt.body))
			dec, err := tt.open(u)
			require.NoError(t, err)
			_, rows := readParquet(t, convertAll(t, dec, formats.Parquet, nil))
			require.Equal(t, [][]any{{"caf\uFFFD", "M\uFFFDnchen"}, {"Zoë", "\uFFFD"}}, rows)
			require.Equal(t, int64(3), u.Replaced())
		})
	}
}
