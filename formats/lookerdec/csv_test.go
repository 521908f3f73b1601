package lookerdec

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/formats"
)

func TestCSV(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x,\"y\"\n", 40000) // 240 KB: larger than the initial buffer
	tests := []struct {
		name   string
		body   string
		labels []string
		rows   [][]cell
	}{
		{
			name:   "plain with trailing newline",
			body:   "Orders ID,Orders Status\n1,complete\n2,pending\n",
			labels: []string{"Orders ID", "Orders Status"},
			rows:   [][]cell{{s("1"), s("complete")}, {s("2"), s("pending")}},
		},
		{
			name:   "no trailing newline, CRLF, BOM",
			body:   "\xef\xbb\xbfA,B\r\n1,2\r\n3,4",
			labels: []string{"A", "B"},
			rows:   [][]cell{{s("1"), s("2")}, {s("3"), s("4")}},
		},
		{
			name:   "quoted fields with commas, quotes, newlines, unicode",
			body:   "A,B,C\n\"a,b\",\"say \"\"hi\"\"\",\"line1\nline2\r\nline3\"\n\"Zoë 東京 🎉\",\"\"\"\",x\n",
			labels: []string{"A", "B", "C"},
			rows: [][]cell{
				{s("a,b"), s(`say "hi"`), s("line1\nline2\r\nline3")},
				{s("Zoë 東京 🎉"), s(`"`), s("x")},
			},
		},
		{
			name:   "empty fields are null, quoted or not",
			body:   "A,B,C\n,,\n\"\",x,\n1,\"\",\"\"\n",
			labels: []string{"A", "B", "C"},
			rows:   [][]cell{{nil, nil, nil}, {nil, s("x"), nil}, {s("1"), nil, nil}},
		},
		{
			name:   "blank lines are skipped with several columns",
			body:   "A,B\n\n1,2\r\n\r\n3,4\n\n",
			labels: []string{"A", "B"},
			rows:   [][]cell{{s("1"), s("2")}, {s("3"), s("4")}},
		},
		{
			name:   "blank line is a null row with one column",
			body:   "A\n1\n\n2\n",
			labels: []string{"A"},
			rows:   [][]cell{{s("1")}, {nil}, {s("2")}},
		},
		{
			name:   "header only",
			body:   "A,B\n",
			labels: []string{"A", "B"},
		},
		{
			name:   "field longer than the buffer",
			body:   "A,B\n\"" + strings.ReplaceAll(long, `"`, `""`) + "\",end\n",
			labels: []string{"A", "B"},
			rows:   [][]cell{{s(long), s("end")}},
		},
		{
			name:   "spaces and lone CR kept",
			body:   "A,B\n a ,b\rc\n",
			labels: []string{"A", "B"},
			rows:   [][]cell{{s(" a "), s("b\rc")}},
		},
	}
	for _, tt := range tests {
		for how, mk := range readers(tt.body) {
			t.Run(tt.name+"/"+how, func(t *testing.T) {
				t.Parallel()
				r, err := NewCSV(mk())
				require.NoError(t, err)
				var labels []string
				for _, f := range r.Schema().Fields {
					require.Equal(t, f.Label, f.Name)
					require.Equal(t, formats.String, f.Type)
					labels = append(labels, f.Label)
				}
				require.Equal(t, tt.labels, labels)
				got, err := readAll(r)
				require.NoError(t, err)
				requireRows(t, tt.rows, got)
				_, err = r.Next()
				require.ErrorIs(t, err, io.EOF, "EOF is sticky")
			})
		}
	}
}

func TestCSVErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		body    string
		rowsOK  int
		row     int
		line    int
		message string
	}{
		{name: "empty body", body: "", row: 0, line: 1, message: "empty"},
		{name: "too few fields", body: "A,B\n1,2\n3\n", rowsOK: 1, row: 2, line: 3, message: "has 1 fields, the header has 2"},
		{name: "too many fields", body: "A,B\n1,2\n3,4\n5,6,7\n", rowsOK: 2, row: 3, line: 4, message: "has 3 fields"},
		{name: "bare quote", body: "A,B\n1,2\n3,a\"b\n", rowsOK: 1, row: 2, line: 3, message: "bare '\"'"},
		{name: "text after closing quote", body: "A,B\n\"x\"y,2\n", row: 1, line: 2, message: "after the closing quote"},
		{name: "unterminated quote", body: "A,B\n1,2\n\"multi\nline,3\n", rowsOK: 1, row: 2, line: 3, message: "no closing"},
		{name: "line numbers count quoted newlines", body: "A,B\n\"a\nb\nc\",1\n2\n", rowsOK: 1, row: 2, line: 5, message: "has 1 fields"},
		{name: "header error", body: "A,\"B\n", row: 0, line: 1, message: "no closing"},
	}
	for _, tt := range tests {
		for how, mk := range readers(tt.body) {
			t.Run(tt.name+"/"+how, func(t *testing.T) {
				t.Parallel()
				r, err := NewCSV(mk())
				if err == nil {
					var got [][]cell
					got, err = readAll(r)
					require.Len(t, got, tt.rowsOK)
				}
				require.Error(t, err)
				var de *DecodeError
				require.ErrorAs(t, err, &de)
				require.Equal(t, tt.row, de.Row)
				require.Equal(t, tt.line, de.Line)
				require.Contains(t, err.Error(), tt.message)
				if tt.row > 0 {
					require.Contains(t, err.Error(), "row ")
				}
				_, err2 := r2Next(r)
				if r != nil {
					require.Equal(t, err, err2, "errors are sticky")
				}
			})
		}
	}
}

func r2Next(r formats.RowReader) (formats.Row, error) {
	if r == nil {
		return nil, nil
	}
	return r.Next()
}

func TestCSVReadError(t *testing.T) {
	t.Parallel()
	boom := errors.New("connection reset")
	body := io.MultiReader(strings.NewReader("A,B\n1,2\n3,"), iotest.ErrReader(boom))
	r, err := NewCSV(body)
	require.NoError(t, err)
	_, err = r.Next()
	require.NoError(t, err)
	_, err = r.Next()
	require.ErrorIs(t, err, boom)
	require.Contains(t, err.Error(), "row 2")
}

func TestCSVRecordTooLong(t *testing.T) {
	t.Parallel()
	// An unterminated quote must fail at the bound, not buffer the body.
	body := io.MultiReader(strings.NewReader("A\n\""), &repeatReader{b: 'x', n: maxRecordBytes + 1<<20})
	r, err := NewCSV(body)
	require.NoError(t, err)
	_, err = r.Next()
	var de *DecodeError
	require.ErrorAs(t, err, &de)
	require.Equal(t, 1, de.Row)
	require.Contains(t, err.Error(), "longer than")
}

type repeatReader struct {
	b byte
	n int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	n := min(len(p), r.n)
	for i := range p[:n] {
		p[i] = r.b
	}
	r.n -= n
	return n, nil
}

var csvSeeds = []string{
	"A,B\n1,2\n",
	"A,B\r\n\"x,y\",\"q\"\"q\"\r\n",
	"\xef\xbb\xbfA\n\n1\n",
	"A,B\n\"unterminated\n",
	"A,B\n1,2,3\n",
	"A,B\na\"b,c\n",
	"A,B\n\"a\"x,c\n",
	"A,B,C\n,,\n\"\",\"\",\"\"\n",
	"A,B\n\"a\r",
	"A,B\n1,\"",
	"",
	"\"",
	",\n,\n",
	"A,B\n\"line1\nline2\",Zoë\n",
}

// FuzzCSVDecoder checks that no input panics and that, on input
// encoding/csv accepts, both decoders agree.
func FuzzCSVDecoder(f *testing.F) {
	for _, s := range csvSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, n := range []int{1, 3, len(body) + 1} {
			var got [][]string
			var err error
			r, err := NewCSV(&chunkReader{data: body, n: n})
			if err == nil {
				var h []string
				for _, f := range r.Schema().Fields {
					h = append(h, f.Name)
				}
				got = append(got, h)
				for {
					row, nerr := r.Next()
					if nerr != nil {
						if !errors.Is(nerr, io.EOF) {
							err = nerr
						}
						break
					}
					rec := make([]string, len(row))
					for i, c := range row {
						rec[i] = string(c.Value)
					}
					got = append(got, rec)
				}
			}
			if bytes.ContainsRune(body, '\r') || bytes.HasPrefix(body, []byte("\xef\xbb\xbf")) {
				continue
			}
			cr := csv.NewReader(bytes.NewReader(body))
			want, cerr := cr.ReadAll()
			if cerr != nil || len(want) == 0 || len(want[0]) < 2 {
				continue
			}
			require.NoError(t, err, "encoding/csv accepts this input")
			require.Equal(t, want, got)
		}
	})
}

// TestTypedCSV: with the columns known, a quoted empty field in a String
// column is an empty string and a bare one null; elsewhere both are null.
func TestTypedCSV(t *testing.T) {
	t.Parallel()
	schema := formats.Schema{Fields: []formats.Field{
		{Name: "orders.note", Type: formats.String},
		{Name: "orders.id", Type: formats.Int64},
		{Name: "users.name", Type: formats.String},
	}}
	body := "Orders Note,Orders ID,Users Name\n\"\",1,\n,\"\",\"\"\n\"a, b\",3,x\n"
	want := [][]cell{{s(""), s("1"), nil}, {nil, nil, s("")}, {s("a, b"), s("3"), s("x")}}
	for name, open := range readers(body) {
		t.Run(name, func(t *testing.T) {
			r, err := NewTypedCSV(open(), schema)
			require.NoError(t, err)
			require.Equal(t, schema, r.Schema())
			got, err := readAll(r)
			require.NoError(t, err)
			requireRows(t, want, got)
		})
	}
	// Plain NewCSV cannot know the types: every empty field is null.
	r, err := NewCSV(strings.NewReader(body))
	require.NoError(t, err)
	got, err := readAll(r)
	require.NoError(t, err)
	requireRows(t, [][]cell{{nil, s("1"), nil}, {nil, nil, nil}, {s("a, b"), s("3"), s("x")}}, got)

	_, err = NewTypedCSV(strings.NewReader("A,B\n1,2\n"), schema)
	var de *DecodeError
	require.ErrorAs(t, err, &de)
	require.ErrorContains(t, err, "the header has 2 columns; the query has 3 fields")
}

// TestUnquotedEnd: the eight-bytes-at-a-time scan finds the same end of
// an unquoted field as a byte-by-byte one, from every offset, whatever
// bytes sit next to the delimiters (0x80 and above, bytes one off a
// delimiter, which a wrong mask would confuse with it).
func TestUnquotedEnd(t *testing.T) {
	t.Parallel()
	alphabet := []byte{',', '\n', '"', '\r', 'a', 0, 0x2b, 0x2d, 0x0b, 0x09, 0x21, 0x23, 0x80, 0xac, 0xff, 0xa2, 0x8a}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		data := make([]byte, rng.IntN(40))
		for i := range data {
			if rng.IntN(4) == 0 {
				data[i] = alphabet[rng.IntN(len(alphabet))]
			} else {
				data[i] = alphabet[4+rng.IntN(len(alphabet)-4)]
			}
		}
		for i := 0; i <= len(data); i++ {
			want := i
			for want < len(data) && !fieldEnd[data[want]] {
				want++
			}
			require.Equal(t, want, unquotedEnd(data, i), "%q from %d", data, i)
		}
	}
}

// TestSmallBodyTakesASmallBuffer: a result that fits in the first read is
// decoded in a buffer of initialBufferBytes (a burst of small runs
// allocated 64 KiB each), and a longer one grows it to readBufferBytes
// after its first read.
func TestSmallBodyTakesASmallBuffer(t *testing.T) {
	for _, tt := range []struct {
		rows    int
		wantBuf int
	}{
		{10, initialBufferBytes},
		{2000, readBufferBytes},
	} {
		body := "Orders ID,Orders Status\n" + strings.Repeat("1,complete\n", tt.rows)
		d, err := readCSVHeader(iotest.HalfReader(strings.NewReader(body)))
		require.NoError(t, err)
		for {
			_, err := d.Next()
			if err == io.EOF {
				break
			}
			require.NoError(t, err)
		}
		require.Equal(t, tt.rows, d.row)
		require.Equal(t, tt.wantBuf, len(d.buf), "%d rows", tt.rows)
	}
}
