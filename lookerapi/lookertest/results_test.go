package lookertest_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/lookerapi/lookertest"
)

func csvRecords(t *testing.T, body []byte) [][]string {
	t.Helper()
	r := csv.NewReader(bytes.NewReader(body))
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	require.NoError(t, err)
	return recs
}

func TestStreamingCap(t *testing.T) {
	t.Parallel()
	const rows = 6000
	no := false
	inline := func(extra string) string {
		return `{"model":"thelook","view":"orders","fields":["orders.id","orders.count"]` + extra + `}`
	}
	tests := []struct {
		name string
		opts lookertest.Options
		path string
		body string
		want int
	}{
		{"streaming, all rows", lookertest.Options{}, "/queries/run/csv?limit=-1", inline(""), rows},
		{"no limit anywhere", lookertest.Options{}, "/queries/run/csv", inline(""), lookertest.DefaultRowCap},
		{"saved limit", lookertest.Options{}, "/queries/run/csv", inline(`,"limit":"10"`), 10},
		{"totals", lookertest.Options{}, "/queries/run/csv?limit=-1", inline(`,"total":true`), 5000},
		{"row totals", lookertest.Options{}, "/queries/run/csv?limit=-1", inline(`,"row_total":"right"`), 5000},
		{"subtotals", lookertest.Options{}, "/queries/run/csv?limit=-1", inline(`,"subtotals":["orders.id"]`), 5000},
		{"running_total", lookertest.Options{}, "/queries/run/csv?limit=-1", `{"model":"thelook","view":"orders","fields":["orders.id","orders.running_total_count"]}`, 5000},
		{"percent_of_total", lookertest.Options{}, "/queries/run/csv?limit=-1", `{"model":"thelook","view":"orders","fields":["orders.id","orders.percent_of_total_amount"]}`, 5000},
		{"percent_of_previous", lookertest.Options{}, "/queries/run/csv?limit=-1", `{"model":"thelook","view":"orders","fields":["orders.id","orders.percent_of_previous_count"]}`, 5000},
		{"table calculation", lookertest.Options{}, "/looks/43/run/csv?limit=-1", "", 5000},
		{"dialect without streaming", lookertest.Options{StreamingDialect: &no}, "/queries/run/csv?limit=-1", inline(""), 5000},
		{"legacy cap", lookertest.Options{NonStreamingCap: 50000}, "/looks/43/run/csv?limit=-1", "", rows},
		{"small cap", lookertest.Options{NonStreamingCap: 100}, "/looks/43/run/csv?limit=-1", "", 100},
		{"cap below the limit", lookertest.Options{NonStreamingCap: 100}, "/looks/43/run/csv?limit=500", "", 100},
		{"pivots stream (the dialect pivots)", lookertest.Options{}, "/queries/run/csv?limit=-1",
			`{"model":"thelook","view":"orders","fields":["orders.id","orders.status","orders.count"],"pivots":["orders.status"]}`, rows},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.opts.Rows = rows
			a := newAPI(t, tt.opts)
			tok := "Bearer " + a.login()
			method := "GET"
			var body *strings.Reader
			if tt.body != "" {
				method, body = "POST", strings.NewReader(tt.body)
			}
			var status int
			var out []byte
			if body != nil {
				status, _, out = a.call(method, tt.path, tok, body, "application/json")
			} else {
				status, _, out = a.call(method, tt.path, tok, nil, "")
			}
			require.Equal(t, 200, status, string(out))
			recs := csvRecords(t, out)
			header := 1
			if strings.Contains(tt.body, "pivots") {
				header = 2
			}
			require.Equal(t, tt.want, len(recs)-header)
		})
	}
}

const pivotQuery = `{"model":"thelook","view":"orders","fields":["orders.id","orders.status","orders.count"],"pivots":["orders.status"],"limit":"6"}`

var statusValues = []string{"complete", "pending", "processing", "shipped", "cancelled"}

func TestPivotsJSON(t *testing.T) {
	t.Parallel()
	a := newAPI(t, lookertest.Options{Rows: 20})
	tok := "Bearer " + a.login()
	rows := a.runJSON(tok, pivotQuery)
	require.Len(t, rows, 6)
	for i, r := range rows {
		require.NotContains(t, r, "orders.status", "a pivot field is not a column")
		counts, ok := r["orders.count"].(map[string]any)
		require.True(t, ok, "a pivoted measure is an object keyed by pivot value: %v", r["orders.count"])
		require.Len(t, counts, len(statusValues))
		st, _ := lookertest.Value("orders.status", i)
		want, _ := lookertest.Value("orders.count", i)
		for _, k := range statusValues {
			if k == st {
				require.Equal(t, want, strconv.FormatFloat(counts[k].(float64), 'f', -1, 64))
			} else {
				require.Nil(t, counts[k])
			}
		}
	}
}

func TestPivotsJSONBi(t *testing.T) {
	t.Parallel()
	a := newAPI(t, lookertest.Options{Rows: 20})
	tok := "Bearer " + a.login()
	status, _, body := a.call("POST", "/queries/run/json_bi", tok, strings.NewReader(pivotQuery), "application/json")
	require.Equal(t, 200, status, string(body))
	var bi struct {
		Metadata struct {
			Fields struct {
				Pivots []struct{ Name string } `json:"pivots"`
			} `json:"fields"`
			Pivots []struct {
				Key     string            `json:"key"`
				Data    map[string]string `json:"data"`
				IsTotal bool              `json:"is_total"`
			} `json:"pivots"`
		} `json:"metadata"`
		Rows []map[string]json.RawMessage `json:"rows"`
	}
	require.NoError(t, json.Unmarshal(body, &bi))
	require.Len(t, bi.Metadata.Fields.Pivots, 1)
	require.Equal(t, "orders.status", bi.Metadata.Fields.Pivots[0].Name)
	require.Len(t, bi.Metadata.Pivots, len(statusValues))
	for i, p := range bi.Metadata.Pivots {
		require.Equal(t, statusValues[i], p.Key)
		require.Equal(t, map[string]string{"orders.status": statusValues[i]}, p.Data)
	}
	require.Len(t, bi.Rows, 6)
	var counts map[string]any
	require.NoError(t, json.Unmarshal(bi.Rows[0]["orders.count"], &counts))
	require.Len(t, counts, len(statusValues))
}

func TestPivotsCSV(t *testing.T) {
	t.Parallel()
	a := newAPI(t, lookertest.Options{Rows: 20})
	tok := "Bearer " + a.login()
	status, _, body := a.call("POST", "/queries/run/csv", tok, strings.NewReader(pivotQuery), "application/json")
	require.Equal(t, 200, status, string(body))
	recs := csvRecords(t, body)
	require.Equal(t, append([]string{"Orders Status"}, statusValues...), recs[0], "a pivot header row")
	require.Equal(t, []string{"Orders ID", "Orders Count", "Orders Count", "Orders Count", "Orders Count", "Orders Count"}, recs[1])
	require.Len(t, recs, 8)
	for i, rec := range recs[2:] {
		id, _ := lookertest.Value("orders.id", i)
		require.Equal(t, id, rec[0])
		st, _ := lookertest.Value("orders.status", i)
		want, _ := lookertest.Value("orders.count", i)
		for j, k := range statusValues {
			if k == st {
				require.Equal(t, want, rec[1+j])
			} else {
				require.Empty(t, rec[1+j])
			}
		}
	}
}

// commas formats a "1234567.80"-style number as "1,234,567.80".
func commas(s string) string {
	in, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	for i := range len(in) {
		if i > 0 && (len(in)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteByte(in[i])
	}
	return b.String() + "." + frac
}

func TestApplyFormatting(t *testing.T) {
	t.Parallel()
	a := newAPI(t, lookertest.Options{Rows: 10})
	tok := "Bearer " + a.login()
	const body = `{"model":"thelook","view":"orders","fields":["orders.id","orders.total_amount","orders.created_date"]}`
	status, _, out := a.call("POST", "/queries/run/json?apply_formatting=true", tok, strings.NewReader(body), "application/json")
	require.Equal(t, 200, status)
	var rows []map[string]any
	require.NoError(t, json.Unmarshal(out, &rows))
	big := 0
	for i, r := range rows {
		raw, _ := lookertest.Value("orders.total_amount", i)
		require.Equal(t, commas(raw), r["orders.total_amount"], "value_format #,##0.00 as a string")
		if strings.Contains(commas(raw), ",") {
			big++
		}
		id, _ := lookertest.Value("orders.id", i)
		require.Equal(t, id, r["orders.id"], "a number without value_format is a plain string")
		date, _ := lookertest.Value("orders.created_date", i)
		require.Equal(t, date, r["orders.created_date"])
	}
	require.Positive(t, big, "the sample has thousands")

	status, _, out = a.call("POST", "/queries/run/csv?apply_formatting=true", tok, strings.NewReader(body), "application/json")
	require.Equal(t, 200, status)
	recs := csvRecords(t, out)
	raw, _ := lookertest.Value("orders.total_amount", 0)
	require.Equal(t, commas(raw), recs[1][1])

	// Without the switch numbers stay raw JSON numbers.
	rows = a.runJSON(tok, body)
	_, isNumber := rows[0]["orders.total_amount"].(float64)
	require.True(t, isNumber)
}
