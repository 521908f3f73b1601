package lookerapi

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"
)

// readChecked reads body through the in-band check, chunk bytes per read
// (0: as it comes), and returns what was handed out and the error.
func readChecked(format, contentType, body string, header []string, chunk int) ([]byte, error) {
	var r io.Reader = strings.NewReader(body)
	if chunk > 0 {
		r = &chunkReader{r: r, n: chunk}
	}
	b := newInBandBody(io.NopCloser(r), resultCheck{format: format, header: header}, contentType, func(msg string) error {
		return &Error{Op: "run_look", Message: msg, Err: ErrInBandError}
	})
	return io.ReadAll(b)
}

// chunkReader returns at most n bytes per Read: a key can be split
// anywhere across reads.
type chunkReader struct {
	r io.Reader
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) { return c.r.Read(p[:min(len(p), c.n)]) }

const dbMessage = `SQL Error: relation "orders" does not exist`

var contentTypes = map[string]string{
	"csv": "text/csv", "txt": "text/plain;charset=utf-8", "json": "application/json", "json_bi": "application/json",
	"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

// inBandShapes are the ways Looker (or a proxy) answers 200 with an error,
// per format: rows (the error where a row would be), object (an error
// object), text (the message alone) and html (a sign-in page).
func inBandShapes(format string) map[string]string {
	msg, _ := json.Marshal(dbMessage)
	rows := map[string]string{
		"csv":     "looker_error\n\"" + strings.ReplaceAll(dbMessage, `"`, `""`) + "\"\n",
		"txt":     "looker_error\n" + dbMessage + "\n",
		"json":    `[{"looker_error":` + string(msg) + `}]`,
		"json_bi": `{"metadata":{"fields":{"dimensions":[],"measures":[]},"pivots":[]},"rows":[{"looker_error":` + string(msg) + `}]}`,
		"xlsx":    "looker_error\n" + dbMessage + "\n",
	}
	return map[string]string{
		"rows":   rows[format],
		"object": "{\n  \"looker_error\" : " + string(msg) + "\n}\n",
		"text":   dbMessage + "\n",
		"html":   "\xef\xbb\xbf\n  <!DOCTYPE html><html><head><title>Sign in</title></head><body>Sign in to continue</body></html>",
	}
}

func TestInBandErrorsFailEveryFormat(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"csv", "txt", "json", "json_bi", "xlsx"} {
		for shape, body := range inBandShapes(format) {
			for _, ct := range []string{contentTypes[format], "", "text/html; charset=utf-8"} {
				for _, chunk := range []int{0, 1, 7} {
					name := fmt.Sprintf("%s/%s/ct=%q/chunk=%d", format, shape, ct, chunk)
					t.Run(name, func(t *testing.T) {
						t.Parallel()
						got, err := readChecked(format, ct, body, nil, chunk)
						require.ErrorIs(t, err, ErrInBandError)
						var e *Error
						require.ErrorAs(t, err, &e)
						require.False(t, e.Retryable)
						if shape == "html" {
							require.Contains(t, e.Message, "Sign in")
						} else {
							require.Contains(t, e.Message, dbMessage, "the database's message")
						}
						require.Empty(t, got, "nothing is handed out past the point of detection")
					})
				}
			}
		}
	}
}

func TestInBandDataPasses(t *testing.T) {
	t.Parallel()
	xlsx := "PK\x03\x04\x14\x00\x06\x00\x08\x00looker_error<html>"
	tests := []struct {
		name, format, ct, body string
		header                 []string
	}{
		{"csv", "csv", "text/csv; charset=utf-8", "Orders ID,Note\n1,looker_error\n2,\"SQL Error: x\"\n", nil},
		{"csv as text/plain", "csv", "text/plain;charset=utf-8", "Orders ID\n1\n", nil},
		{"csv with BOM and CRLF", "csv", "text/csv", "\xef\xbb\xbfOrders ID,Note\r\n1,x\r\n", []string{"Orders ID", "Note"}},
		{"csv with expected header", "csv", "text/csv", "\"Orders ID\",Orders  Note\n1,x\n", []string{"Orders ID", "Orders Note"}},
		{"empty csv", "csv", "text/csv", "", nil},
		{"txt", "txt", "text/plain", "Orders ID\tNote\n1\tlooker_error\n", []string{"Orders ID", "Note"}},
		{"json rows", "json", "application/json", `[{"orders.note":"looker_error","x":"\"looker_error\": 1"},{"looker_errors":1,"y":["looker_error"]}]`, nil},
		{"empty json", "json", "application/json", `[]`, nil},
		{"json_bi", "json_bi", "application/json", `{"metadata":{"sql":"SELECT 'looker_error' AS \"looker_error\""},"rows":[{"a":"looker_error:"}]}`, nil},
		{"json key of another name ending in looker_error", "json", "application/json", `[{"not_looker_error":"x"}]`, nil},
		{"json escaped key", "json", "application/json", `[{"looker\u005ferror_x":"x"}]`, nil},
		{"html requested", "html", "text/html;charset=utf-8", "<html><table><tr><th>ID</th></tr></table></html>", nil},
		{"xlsx", "xlsx", contentTypes["xlsx"], xlsx, nil},
		{"xlsx as octet-stream", "xlsx", "application/octet-stream", xlsx, nil},
		{"sql", "sql", "application/sql", "SELECT 1", nil},
	}
	for _, tt := range tests {
		for _, chunk := range []int{0, 1, 5} {
			t.Run(fmt.Sprintf("%s/chunk=%d", tt.name, chunk), func(t *testing.T) {
				t.Parallel()
				got, err := readChecked(tt.format, tt.ct, tt.body, tt.header, chunk)
				require.NoError(t, err)
				require.Equal(t, tt.body, string(got), "passed on unchanged")
			})
		}
	}
}

func TestInBandMismatches(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, format, ct, body string
		header                 []string
		msg                    string
	}{
		{"json for csv", "csv", "application/json", `{"message":"Not authorized"}`, nil, `does not fit result format csv`},
		{"csv for json", "json", "text/csv", "Orders ID\n1\n", nil, `does not fit result format json`},
		{"json for xlsx", "xlsx", "application/json", `[{"looker_error":"boom"}]`, nil, "boom"},
		{"text for json", "json", "application/json", "Error: the query was cancelled", nil, "Error: the query was cancelled"},
		{"object for json_bi", "json_bi", "application/json", `{"looker_error":{"message":"boom","sql_error_loc":{"line":1}}}`, nil, `{"message":"boom","sql_error_loc":{"line":1}}`},
		{"looker_error deep in json_bi rows", "json_bi", "application/json", `{"metadata":{},"rows":[{"a":1},{"a":2},{"b":{"looker_error":"late boom"}}]}`, nil, "late boom"},
		{"wrong header", "csv", "text/csv", "Something Else\n1\n", []string{"Orders ID"}, "not the expected header (Orders ID)"},
		{"too few columns", "csv", "text/csv", "Orders ID\n1\n", []string{"Orders ID", "Orders Amount"}, "not the expected header"},
		{"error text in csv", "csv", "text/csv", "Error: Looker could not run the query\n", nil, "Error: Looker could not run the query"},
		{"xlsx that is text", "xlsx", "", "The query timed out", nil, "The query timed out"},
		{"head without a body", "html", "text/html", "", nil, ""}, // html may be empty: passes, see below
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := readChecked(tt.format, tt.ct, tt.body, tt.header, 3)
			if tt.msg == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrInBandError)
			var e *Error
			require.ErrorAs(t, err, &e)
			require.Contains(t, e.Message, tt.msg)
			require.Empty(t, got)
		})
	}
}

// TestInBandStopsAtDetection: rows read before the error are handed out,
// nothing after it, and reading again keeps failing.
func TestInBandStopsAtDetection(t *testing.T) {
	t.Parallel()
	good := strings.Repeat(`{"orders.id":1,"note":"fine"},`, 4000) // more than one read
	body := `[` + good + `{"looker_error":"boom"},{"orders.id":2,"note":"after"}]`
	b := newInBandBody(io.NopCloser(iotest.HalfReader(strings.NewReader(body))), resultCheck{format: "json"}, "application/json",
		func(msg string) error { return &Error{Message: msg, Err: ErrInBandError} })
	got, err := io.ReadAll(b)
	require.ErrorIs(t, err, ErrInBandError)
	require.ErrorContains(t, err, "boom")
	require.True(t, strings.HasPrefix(body, string(got)))
	require.NotContains(t, string(got), "looker_error")
	require.NotContains(t, string(got), "after")
	n, err2 := b.Read(make([]byte, 10))
	require.Zero(t, n)
	require.Equal(t, err, err2)
}

// TestInBandFuzzValidData: random valid JSON whose keys and values hold
// the words looker_error (quoted, escaped, split anywhere across reads)
// passes unchanged unless looker_error is really a key.
func TestInBandFuzzValidData(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewSource(10))
	words := []string{"looker_error", `"looker_error"`, `"looker_error":`, `\"looker_error\": "x"`, "looker_", "_error", `\`, `"`, ":", "{", "[", "é", "\n"}
	value := func() string {
		var b strings.Builder
		for i := rng.Intn(6); i >= 0; i-- {
			b.WriteString(words[rng.Intn(len(words))])
		}
		return b.String()
	}
	for i := 0; i < 500; i++ {
		var rows []map[string]any
		for r := rng.Intn(4); r >= 0; r-- {
			row := map[string]any{"orders.note": value(), "orders.id": r, value() + "x": []string{value(), "looker_error"}}
			rows = append(rows, row)
		}
		raw, err := json.Marshal(rows)
		require.NoError(t, err)
		var doc any
		require.NoError(t, json.Unmarshal(raw, &doc))
		wantErr := hasKey(doc, "looker_error")
		for _, format := range []string{"json", "json_bi"} {
			body := string(raw)
			if format == "json_bi" {
				body = `{"metadata":{"sql":` + strconvQuote(value()) + `},"rows":` + body + `}`
			}
			got, err := readChecked(format, "application/json", body, nil, 1+rng.Intn(9))
			if wantErr {
				require.ErrorIs(t, err, ErrInBandError, body)
				continue
			}
			require.NoError(t, err, body)
			require.Equal(t, body, string(got))
		}
	}
}

func strconvQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func hasKey(v any, key string) bool {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if k == key || hasKey(x, key) {
				return true
			}
		}
	case []any:
		for _, x := range v {
			if hasKey(x, key) {
				return true
			}
		}
	}
	return false
}

// FuzzInBandJSONValues: any string as a value of a json row passes.
func FuzzInBandJSONValues(f *testing.F) {
	for _, s := range []string{"looker_error", `"looker_error":"x"`, `\"looker_error\":`, "\x00", "}]"} {
		f.Add(s, 3)
	}
	f.Fuzz(func(t *testing.T, s string, chunk int) {
		raw, err := json.Marshal([]map[string]string{{"orders.note": s}})
		if err != nil {
			return
		}
		got, err := readChecked("json", "application/json", string(raw), nil, 1+abs(chunk)%16)
		if err != nil {
			t.Fatalf("valid data %s failed: %v", raw, err)
		}
		if !bytes.Equal(got, raw) {
			t.Fatalf("changed: %q -> %q", raw, got)
		}
	})
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func TestContentTypeFits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		format, ct string
		fits       bool
	}{
		{"json", "application/json; charset=utf-8", true},
		{"json_label", "application/json", true},
		{"json", "text/html", false},
		{"json_bi", "text/plain", false},
		{"csv", "text/csv", true},
		{"csv", "text/plain;charset=utf-8", true},
		{"csv", "text/html;charset=utf-8", false},
		{"csv", "application/json", false},
		{"txt", "text/plain", true},
		{"txt", "text/csv", false},
		{"html", "text/html", true},
		{"html", "text/plain", false},
		{"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", true},
		{"xlsx", "application/json", false},
		{"xlsx", "text/html", false},
		{"xlsx", "", true},
		{"sql", "application/sql", true},
		{"png", "image/png", true},
		{"png", "text/html", false},
		{"md", "text/markdown", true},
		{"csv", "not a / type;;", false},
	}
	for _, tt := range tests {
		require.Equal(t, tt.fits, contentTypeFits(tt.format, tt.ct), "%s %q", tt.format, tt.ct)
	}
	require.True(t, errors.Is(&Error{Err: ErrInBandError}, ErrInBandError))
}

// TestInBandHeadOnly: with RunOptions.DecodesJSON the client checks the
// first bytes of a JSON body and leaves the rest to the caller's decoder.
func TestInBandHeadOnly(t *testing.T) {
	t.Parallel()
	late := `{"metadata":{"sql":"` + strings.Repeat("x", 2*sniffLen) + `"},"rows":[{"looker_error":"late"}]}`
	early := `{"looker_error":"early"}`
	read := func(body string, headOnly bool) ([]byte, error) {
		b := newInBandBody(io.NopCloser(&chunkReader{r: strings.NewReader(body), n: 7}), resultCheck{format: "json_bi", headOnly: headOnly}, "application/json",
			func(msg string) error { return &Error{Op: "run_look", Message: msg, Err: ErrInBandError} })
		return io.ReadAll(b)
	}
	_, err := read(late, false)
	require.ErrorIs(t, err, ErrInBandError, "every byte is checked by default")
	got, err := read(late, true)
	require.NoError(t, err, "past the head the decoder checks")
	require.Equal(t, late, string(got))
	_, err = read(early, true)
	require.ErrorIs(t, err, ErrInBandError, "the head is still checked")
	require.ErrorContains(t, err, "early")
}

// BenchmarkInBandCheckJSONBI reads a 100,000-row json_bi body through the
// in-band check and, side by side, through nothing: the check sees every
// byte of every JSON result, so its cost is a share of every export
// (a byte-by-byte scan was 28% of the CPU of a json_bi to Parquet run).
func BenchmarkInBandCheckJSONBI(b *testing.B) {
	var body bytes.Buffer
	body.WriteString(`{"metadata":{"fields":{"dimensions":[{"name":"orders.id","type":"number"}]}},"rows":[`)
	for i := range 100_000 {
		if i > 0 {
			body.WriteByte(',')
		}
		fmt.Fprintf(&body, `{"orders.id":%d,"orders.created_date":"2024-01-%02d","users.email":"ana.garcia%d@example.com","orders.note":"says \"hi\", \u00e9t\u00e9","orders.amount":%d.50,"orders.discount":null}`, i, i%28+1, i, i%997)
	}
	body.WriteString(`]}`)
	raw := body.Bytes()
	buf := make([]byte, 32<<10)
	for _, c := range []struct {
		name  string
		check bool
	}{{"plain", false}, {"checked", true}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			for range b.N {
				var r io.Reader = bytes.NewReader(raw)
				if c.check {
					r = newInBandBody(io.NopCloser(r), resultCheck{format: "json_bi"}, "application/json", func(msg string) error {
						return errors.New(msg)
					})
				}
				for {
					_, err := r.Read(buf)
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// TestSplitHeaderIsCSVs: a header line splits into the cells a csv.Reader
// (LazyQuotes, any number of fields) reads from it, with or without
// quotes, for csv and txt.
func TestSplitHeaderIsCSVs(t *testing.T) {
	t.Parallel()
	viaReader := func(line, format string) []string {
		r := csv.NewReader(strings.NewReader(strings.TrimRight(line, "\r")))
		r.LazyQuotes = true
		r.FieldsPerRecord = -1
		if format == "txt" {
			r.Comma = '\t'
		}
		cells, err := r.Read()
		if err != nil || len(cells) == 0 {
			return []string{line}
		}
		return cells
	}
	lines := []string{
		"Orders ID,Orders Created Date,Users Email",
		"Orders ID,Orders Created Date,Users Email\r",
		"a, b ,c ,,",
		",",
		"x",
		"Ünïcode Läbel,日本語,emoji 🙂",
		"Orders ID\tOrders Created Date\tUsers Email",
		"tab\tand,comma",
		"cr\rinside,b",
		`"Quoted, label",plain`,
		`a "lazy" quote,b`,
		`"unterminated,b`,
		`"tab	in","quotes"`,
	}
	for _, format := range []string{"csv", "txt"} {
		for _, line := range lines {
			require.Equal(t, viaReader(line, format), splitHeader([]byte(line), format), "%s %q", format, line)
		}
	}
}

// TestSplitHeaderWithoutQuotesAllocatesLittle: a header without quotes
// costs its cells and their strings, not a csv.Reader.
func TestSplitHeaderWithoutQuotesAllocatesLittle(t *testing.T) { //nolint:paralleltest // AllocsPerRun refuses a parallel test
	line := []byte("Orders ID,Orders Created Date,Orders Status,Users Email,Users Country,Orders Amount")
	require.LessOrEqual(t, testing.AllocsPerRun(100, func() { splitHeader(line, "csv") }), 2.0)
}
