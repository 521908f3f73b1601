package lookertest_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/lookerapi/lookertest"
)

// TestFilterExpressions runs one query per documented filter form
// (https://cloud.google.com/looker/docs/filter-expressions) and checks the
// rows that come back against the sample data, row by row.
func TestFilterExpressions(t *testing.T) {
	t.Parallel()
	const rows = 4000 // 97 s apart from 2024-01-01 08:00 UTC: until 2024-01-05 11:46 UTC
	now := time.Date(2024, 1, 4, 12, 0, 0, 0, time.UTC)
	num := func(field string, row int) (float64, bool) {
		v, null := lookertest.Value(field, row)
		x, _ := strconv.ParseFloat(v, 64)
		return x, null
	}
	str := func(field string, row int) string { v, _ := lookertest.Value(field, row); return v }
	in := func(row int, from, to time.Time) bool {
		t := lookertest.Instant(row)
		return !t.Before(from) && t.Before(to)
	}
	day := func(d int) time.Time { return time.Date(2024, 1, d, 0, 0, 0, 0, time.UTC) }
	ny, _ := time.LoadLocation("America/New_York")
	for _, tc := range []struct {
		name, field, expr, zone string
		complete                bool
		want                    func(row int) bool
	}{
		{"string exact", "users.country", "France", "", false, func(r int) bool { return str("users.country", r) == "France" }},
		{"string list", "users.country", "France,Spain", "", false, func(r int) bool { c := str("users.country", r); return c == "France" || c == "Spain" }},
		{"string escaped comma", "users.country", `Korea\, Republic of`, "", false, func(r int) bool { return str("users.country", r) == "Korea, Republic of" }},
		{"string not", "orders.status", "-complete,-cancelled", "", false, func(r int) bool { s := str("orders.status", r); return s != "complete" && s != "cancelled" }},
		{"string starts with", "users.country", "S%", "", false, func(r int) bool { return strings.HasPrefix(str("users.country", r), "S") }},
		{"string null", "orders.note", "NULL", "", false, func(r int) bool { _, null := lookertest.Value("orders.note", r); return null }},
		{"string not null", "orders.note", "-NULL", "", false, func(r int) bool { _, null := lookertest.Value("orders.note", r); return !null }},
		{"number exact", "orders.quantity", "3", "", false, func(r int) bool { x, _ := num("orders.quantity", r); return x == 3 }},
		{"number list", "orders.quantity", "1, 5", "", false, func(r int) bool { x, _ := num("orders.quantity", r); return x == 1 || x == 5 }},
		{"number greater", "orders.amount", ">=500", "", false, func(r int) bool { x, _ := num("orders.amount", r); return x >= 500 }},
		{"number and", "orders.amount", ">100 AND <200", "", false, func(r int) bool { x, _ := num("orders.amount", r); return x > 100 && x < 200 }},
		{"number to", "orders.quantity", "2 to 4", "", false, func(r int) bool { x, _ := num("orders.quantity", r); return x >= 2 && x <= 4 }},
		{"number interval", "orders.amount", "[100, 200)", "", false, func(r int) bool { x, _ := num("orders.amount", r); return x >= 100 && x < 200 }},
		{"number not", "orders.quantity", "NOT 3", "", false, func(r int) bool { x, _ := num("orders.quantity", r); return x != 3 }},
		{"number null", "orders.discount", "NULL", "", false, func(r int) bool { _, null := num("orders.discount", r); return null }},
		{"yesno", "orders.is_first_purchase", "Yes", "", false, func(r int) bool { return str("orders.is_first_purchase", r) == "Yes" }},
		{"date day", "orders.created_date", "2024-01-02", "", false, func(r int) bool { return in(r, day(2), day(3)) }},
		{"date after", "orders.created_date", "after 2024-01-03", "", false, func(r int) bool { return !lookertest.Instant(r).Before(day(3)) }},
		{"date before", "orders.created_date", "before 2024-01-03", "", false, func(r int) bool { return lookertest.Instant(r).Before(day(3)) }},
		{"date to", "orders.created_date", "2024-01-02 to 2024-01-04", "", false, func(r int) bool { return in(r, day(2), day(4)) }},
		{"time to", "orders.created_time", "2024-01-02 10:00 to 2024-01-02 11:30", "", false, func(r int) bool {
			return in(r, day(2).Add(10*time.Hour), day(2).Add(11*time.Hour+30*time.Minute))
		}},
		{"date in the query zone", "orders.created_date", "2024-01-02", "America/New_York", false, func(r int) bool {
			return in(r, time.Date(2024, 1, 2, 0, 0, 0, 0, ny), time.Date(2024, 1, 3, 0, 0, 0, 0, ny))
		}},
		{"today", "orders.created_date", "today", "", false, func(r int) bool { return in(r, day(4), day(5)) }},
		{"yesterday", "orders.created_date", "yesterday", "", false, func(r int) bool { return in(r, day(3), day(4)) }},
		{"2 days, today included", "orders.created_date", "2 days", "", false, func(r int) bool { return in(r, day(3), day(5)) }},
		{"2 days, complete days", "orders.created_date", "2 days", "", true, func(r int) bool { return in(r, day(2), day(4)) }},
		{"last 2 days", "orders.created_date", "last 2 days", "", false, func(r int) bool { return in(r, day(3), day(5)) }},
		{"2 days ago", "orders.created_date", "2 days ago", "", false, func(r int) bool { return in(r, day(2), day(3)) }},
		{"3 hours", "orders.created_time", "3 hours", "", false, func(r int) bool { return in(r, now.Add(-3*time.Hour), now.Add(time.Second)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, lookertest.Options{Rows: rows, Now: func() time.Time { return now }, RelativeDatesComplete: tc.complete})
			tok := "Bearer " + a.login()
			q, _ := json.Marshal(map[string]any{"model": "thelook", "view": "orders", "fields": []string{"orders.id"},
				"filters": map[string]string{tc.field: tc.expr}, "query_timezone": tc.zone})
			status, _, body := a.call("POST", "/queries/run/json?limit=-1", tok, strings.NewReader(string(q)), "application/json")
			require.Equal(t, 200, status, string(body))
			want, ids := idsOf(t, rows, tc.want, body)
			require.NotEmpty(t, want, "the case must select some rows")
			require.Less(t, len(want), rows, "the case must leave some rows out")
			require.Equal(t, want, ids)
		})
	}
}

// TestUnmodelledFilterIsRefused: a filter form the sandbox cannot
// evaluate fails the query rather than being ignored.
func TestUnmodelledFilterIsRefused(t *testing.T) {
	t.Parallel()
	a := newAPI(t, lookertest.Options{Rows: 10})
	tok := "Bearer " + a.login()
	for _, f := range []string{`{"orders.created_date":"next fortnight"}`, `{"orders.amount":"lots"}`, `{"orders.is_first_purchase":"maybe"}`} {
		status, _, body := a.call("POST", "/queries/run/json", tok,
			strings.NewReader(`{"model":"thelook","view":"orders","fields":["orders.id"],"filters":`+f+`}`), "application/json")
		require.Equal(t, 400, status, f)
		require.Contains(t, string(body), "Invalid filter")
	}
}

// TestCustomFilter evaluates filter_expression (custom filters), alone
// and together with filters, and refuses a form it does not model.
func TestCustomFilter(t *testing.T) {
	t.Parallel()
	const rows = 1500
	a := newAPI(t, lookertest.Options{Rows: rows})
	tok := "Bearer " + a.login()
	num := func(field string, row int) (float64, bool) {
		v, null := lookertest.Value(field, row)
		x, _ := strconv.ParseFloat(v, 64)
		return x, null
	}
	for _, tc := range []struct {
		expr    string
		filters map[string]string
		want    func(r int) bool
	}{
		{`${orders.amount} > 500 AND ${users.country} = "France"`, nil, func(r int) bool {
			x, _ := num("orders.amount", r)
			c, _ := lookertest.Value("users.country", r)
			return x > 500 && c == "France"
		}},
		{`${orders.quantity} = 1 OR ${orders.quantity} = 5`, nil, func(r int) bool { x, _ := num("orders.quantity", r); return x == 1 || x == 5 }},
		{`is_null(${orders.discount})`, map[string]string{"orders.status": "complete"}, func(r int) bool {
			_, null := num("orders.discount", r)
			s, _ := lookertest.Value("orders.status", r)
			return null && s == "complete"
		}},
	} {
		q, _ := json.Marshal(map[string]any{"model": "thelook", "view": "orders", "fields": []string{"orders.id"},
			"filters": tc.filters, "filter_expression": tc.expr})
		status, _, body := a.call("POST", "/queries/run/json?limit=-1", tok, strings.NewReader(string(q)), "application/json")
		require.Equal(t, 200, status, string(body))
		want, ids := idsOf(t, rows, tc.want, body)
		require.NotEmpty(t, want, tc.expr)
		require.Equal(t, want, ids, tc.expr)
	}
	status, _, body := a.call("POST", "/queries/run/json", tok, strings.NewReader(
		`{"model":"thelook","view":"orders","fields":["orders.id"],"filter_expression":"diff_days(${orders.created_date}, now()) < 7"}`), "application/json")
	require.Equal(t, 400, status)
	require.Contains(t, string(body), "Invalid filter on filter_expression")
}

// idsOf returns the orders.id values keep selects among rows, and those
// of a json result body.
func idsOf(t *testing.T, rows int, keep func(int) bool, body []byte) (want, got []float64) {
	t.Helper()
	var objs []map[string]float64
	require.NoError(t, json.Unmarshal(body, &objs))
	for r := 0; r < rows; r++ {
		if keep(r) {
			want = append(want, float64(r+1))
		}
	}
	got = make([]float64, len(objs))
	for i, o := range objs {
		got[i] = o["orders.id"]
	}
	return want, got
}
