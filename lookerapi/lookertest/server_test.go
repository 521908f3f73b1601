package lookertest_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/lookerapi/lookertest"
)

// api is a raw HTTP helper around a Server.
type api struct {
	t      *testing.T
	srv    *lookertest.Server
	client *http.Client // nil: http.DefaultClient
}

func newAPI(t *testing.T, opts lookertest.Options) *api {
	t.Helper()
	srv := lookertest.NewServer(opts)
	t.Cleanup(srv.Close)
	return &api{t: t, srv: srv}
}

// call sends a request and returns the status, headers and body.
func (a *api) call(method, path, auth string, body io.Reader, contentType string) (int, http.Header, []byte) {
	a.t.Helper()
	req, err := http.NewRequest(method, a.srv.URL()+"/api/4.0"+path, body)
	require.NoError(a.t, err)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	hc := a.client
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	require.NoError(a.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(a.t, err)
	return resp.StatusCode, resp.Header, b
}

func (a *api) login() string {
	a.t.Helper()
	form := url.Values{"client_id": {a.srv.ClientID()}, "client_secret": {a.srv.ClientSecret()}, "grant_type": {"client_credentials"}}
	status, _, body := a.call("POST", "/login", "", strings.NewReader(form.Encode()), "application/x-www-form-urlencoded")
	require.Equal(a.t, 200, status, string(body))
	var tok struct {
		AccessToken  string  `json:"access_token"`
		TokenType    string  `json:"token_type"`
		ExpiresIn    int64   `json:"expires_in"`
		RefreshToken *string `json:"refresh_token"`
	}
	require.NoError(a.t, json.Unmarshal(body, &tok))
	require.Equal(a.t, "Bearer", tok.TokenType)
	require.NotEmpty(a.t, tok.AccessToken)
	require.Positive(a.t, tok.ExpiresIn)
	require.Nil(a.t, tok.RefreshToken)
	return tok.AccessToken
}

func requireLookerError(t *testing.T, body []byte, msg, docSuffix string) {
	t.Helper()
	var e struct {
		Message          string `json:"message"`
		DocumentationURL string `json:"documentation_url"`
	}
	require.NoError(t, json.Unmarshal(body, &e), string(body))
	require.Contains(t, e.Message, msg)
	require.Equal(t, "https://cloud.google.com/looker/docs/r/err/4.0/"+docSuffix, e.DocumentationURL)
}

func TestLogin(t *testing.T) {
	t.Parallel()
	a := newAPI(t, lookertest.Options{ClientID: "my-id", ClientSecret: "my-secret", TokenTTL: 30 * time.Minute})
	require.Equal(t, "my-id", a.srv.ClientID())
	require.Equal(t, "my-secret", a.srv.ClientSecret())

	tok := a.login()
	// Query-parameter credentials still work (deprecated by Looker).
	status, _, body := a.call("POST", "/login?client_id=my-id&client_secret=my-secret", "", nil, "")
	require.Equal(t, 200, status)
	require.Contains(t, string(body), `"expires_in":1800`)

	status, _, body = a.call("POST", "/login", "", strings.NewReader("client_id=my-id&client_secret=nope"), "application/x-www-form-urlencoded")
	require.Equal(t, 404, status)
	requireLookerError(t, body, "Not found", "404/post/login")
	require.Equal(t, 2, a.srv.Logins())

	for _, auth := range []string{"token " + tok, "Bearer " + tok, "bearer " + tok, "TOKEN " + tok} {
		status, _, _ = a.call("GET", "/looks/42", auth, nil, "")
		require.Equal(t, 200, status, auth)
	}
	for _, auth := range []string{"", "Bearer", "Basic " + tok, "Bearer nope"} {
		status, _, body = a.call("GET", "/looks/42", auth, nil, "")
		require.Equal(t, 401, status, auth)
		requireLookerError(t, body, "Requires authentication.", "401/get/looks/:look_id")
	}

	status, _, body = a.call("DELETE", "/logout", "Bearer "+tok, nil, "")
	require.Equal(t, 204, status)
	require.Empty(t, body)
	require.Equal(t, 1, a.srv.Logouts())
	status, _, _ = a.call("GET", "/looks/42", "Bearer "+tok, nil, "")
	require.Equal(t, 401, status, "logout revokes the token")
}

func TestLoginUser(t *testing.T) {
	t.Parallel()
	a := newAPI(t, lookertest.Options{})
	admin := a.login()
	status, _, body := a.call("POST", "/login/7?associative=false", "Bearer "+admin, nil, "")
	require.Equal(t, 200, status)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.Unmarshal(body, &tok))
	require.NotEqual(t, admin, tok.AccessToken)

	status, _, _ = a.call("GET", "/queries/123", "token "+tok.AccessToken, nil, "")
	require.Equal(t, 200, status)
	status, _, body = a.call("POST", "/login/8", "token "+tok.AccessToken, nil, "")
	require.Equal(t, 403, status, "only an admin may sudo")
	requireLookerError(t, body, "Permission Denied", "403/post/login/:user_id")
	status, _, _ = a.call("POST", "/login/8", "", nil, "")
	require.Equal(t, 401, status)
}

func TestTokenExpiryWithServerClock(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a := newAPI(t, lookertest.Options{TokenTTL: time.Minute, Now: func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}})
	tok := a.login()
	advance := func(d time.Duration) {
		mu.Lock()
		now = now.Add(d)
		mu.Unlock()
	}
	advance(59 * time.Second)
	status, _, _ := a.call("GET", "/queries/123", "Bearer "+tok, nil, "")
	require.Equal(t, 200, status)
	advance(time.Second)
	status, _, _ = a.call("GET", "/queries/123", "Bearer "+tok, nil, "")
	require.Equal(t, 401, status)

	a.srv.SetTokenTTL(10 * time.Second)
	tok = a.login()
	advance(10 * time.Second)
	status, _, _ = a.call("GET", "/queries/123", "Bearer "+tok, nil, "")
	require.Equal(t, 401, status)
}

func TestRunRowCaps(t *testing.T) {
	t.Parallel()
	a := newAPI(t, lookertest.Options{Rows: 6000})
	tok := "Bearer " + a.login()
	countRows := func(body []byte) int {
		recs, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
		require.NoError(t, err)
		return len(recs) - 1
	}
	tests := []struct {
		name   string
		method string
		path   string
		body   string
		rows   int
	}{
		{"look without limit", "GET", "/looks/42/run/csv", "", 5000},
		{"look all", "GET", "/looks/42/run/csv?limit=-1", "", 6000},
		{"look limit", "GET", "/looks/42/run/csv?limit=7", "", 7},
		{"query without limit", "GET", "/queries/123/run/csv", "", 5000},
		{"inline body limit", "POST", "/queries/run/csv", `{"model":"thelook","view":"orders","fields":["orders.id"],"limit":"12"}`, 12},
		{"inline param beats body", "POST", "/queries/run/csv?limit=3", `{"model":"thelook","view":"orders","fields":["orders.id"],"limit":"12"}`, 3},
		{"inline body -1", "POST", "/queries/run/csv", `{"model":"thelook","view":"orders","fields":["orders.id"],"limit":"-1"}`, 6000},
		{"url encoded", "GET", "/queries/models/thelook/views/orders/run/csv?fields=orders.id,users.email&limit=20", "", 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			status, _, out := a.call(tt.method, tt.path, tok, body, "application/json")
			require.Equal(t, 200, status, string(out))
			require.Equal(t, tt.rows, countRows(out))
		})
	}
	require.Equal(t, 5000, a.srv.Rows(0))
	require.Equal(t, 6000, a.srv.Rows(-1))
	require.Equal(t, 9, a.srv.Rows(9))
	require.Equal(t, 6000, a.srv.Rows(99999))
}

func TestFormats(t *testing.T) {
	t.Parallel()
	a := newAPI(t, lookertest.Options{Rows: 40})
	tok := "Bearer " + a.login()
	fields, err := a.srv.Fields(lookertest.Source{LookID: "42"})
	require.NoError(t, err)
	require.Len(t, fields, len(lookertest.QueryFields))

	status, hdr, body := a.call("GET", "/looks/42/run/txt?limit=-1", tok, nil, "")
	require.Equal(t, 200, status)
	require.Contains(t, hdr.Get("Content-Type"), "text/plain")
	lines := strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
	require.Len(t, lines, 41, "values carry no raw newlines in txt")
	require.Equal(t, "Orders ID", strings.Split(lines[0], "\t")[0])
	for row := 0; row < 40; row++ {
		cells := strings.Split(lines[row+1], "\t")
		require.Len(t, cells, len(fields))
		email, _ := lookertest.Value("users.email", row)
		require.Equal(t, email, cells[4])
	}

	status, _, body = a.call("GET", "/looks/42/run/json_label?limit=2", tok, nil, "")
	require.Equal(t, 200, status)
	var labelled []map[string]any
	require.NoError(t, json.Unmarshal(body, &labelled))
	require.Len(t, labelled, 2)
	require.EqualValues(t, 2, labelled[1]["Orders ID"])

	status, hdr, body = a.call("GET", "/queries/123/run/sql?limit=10", tok, nil, "")
	require.Equal(t, 200, status)
	require.Equal(t, "application/sql", hdr.Get("Content-Type"))
	require.Contains(t, string(body), `orders.created_date AS "orders.created_date"`)
	require.Contains(t, string(body), "LIMIT 10")

	for _, f := range []string{"xlsx", "pdf", "png"} {
		status, _, body = a.call("GET", "/looks/42/run/"+f, tok, nil, "")
		require.Equal(t, 400, status, f)
		requireLookerError(t, body, f, "400/get/looks/:look_id/run/:result_format")
	}
}

func TestUnknownFormatStatus(t *testing.T) {
	t.Parallel()
	a := newAPI(t, lookertest.Options{UnknownFormatStatus: 422})
	status, _, _ := a.call("GET", "/looks/42/run/xlsx", "Bearer "+a.login(), nil, "")
	require.Equal(t, 422, status)
}

func TestQueriesAndSQL(t *testing.T) {
	t.Parallel()
	a := newAPI(t, lookertest.Options{Rows: 300})
	tok := "Bearer " + a.login()

	// Identical bodies give the same query.
	q := `{"model":"thelook","view":"orders","fields":["users.country","orders.count"]}`
	ids := map[string]bool{}
	for i := 0; i < 2; i++ {
		status, _, body := a.call("POST", "/queries", tok, strings.NewReader(q), "application/json")
		require.Equal(t, 200, status, string(body))
		var got struct{ ID, Slug string }
		require.NoError(t, json.Unmarshal(body, &got))
		ids[got.ID] = true
		status, _, body = a.call("GET", "/queries/slug/"+got.Slug, tok, nil, "")
		require.Equal(t, 200, status)
		require.Contains(t, string(body), `"id":"`+got.ID+`"`)
	}
	require.Len(t, ids, 1)

	status, _, body := a.call("GET", "/queries/slug/"+lookertest.QuerySlug, tok, nil, "")
	require.Equal(t, 200, status)
	require.Contains(t, string(body), `"id":"123"`)

	status, _, body = a.call("POST", "/queries", tok, strings.NewReader(`{"model":"thelook"}`), "application/json")
	require.Equal(t, 422, status)
	require.Contains(t, string(body), `"field":"view"`)

	// SQL Runner.
	status, _, body = a.call("POST", "/sql_queries", tok, strings.NewReader(`{"connection_name":"warehouse","sql":"SELECT * FROM orders LIMIT 25;"}`), "application/json")
	require.Equal(t, 200, status, string(body))
	var sq struct{ Slug string }
	require.NoError(t, json.Unmarshal(body, &sq))
	require.NotEmpty(t, sq.Slug)
	status, _, body = a.call("GET", "/sql_queries/"+sq.Slug, tok, nil, "")
	require.Equal(t, 200, status)
	require.Contains(t, string(body), `"name":"warehouse"`)
	status, _, body = a.call("POST", "/sql_queries/"+sq.Slug+"/run/json", tok, nil, "")
	require.Equal(t, 200, status)
	var rows []map[string]any
	require.NoError(t, json.Unmarshal(body, &rows))
	require.Len(t, rows, 25, "the SQL's LIMIT applies")
	require.Contains(t, rows[0], "created_date")
	require.EqualValues(t, 1, rows[0]["id"])

	status, _, body = a.call("POST", "/sql_queries", tok, strings.NewReader(`{"connection_name":"other","sql":"SELECT 1"}`), "application/json")
	require.Equal(t, 404, status)
	requireLookerError(t, body, "other", "404/post/sql_queries")
	status, _, _ = a.call("POST", "/sql_queries", tok, strings.NewReader(`{"sql":"SELECT 1"}`), "application/json")
	require.Equal(t, 422, status)

	status, _, body = a.call("GET", "/no/such/thing", tok, nil, "")
	require.Equal(t, 404, status)
	requireLookerError(t, body, "Not found", "404/get/no/such/thing")
	require.Equal(t, 1, a.srv.Requests("not_found"))
}

func TestFilters(t *testing.T) {
	t.Parallel()
	const rows = 2000
	a := newAPI(t, lookertest.Options{Rows: rows})
	tok := "Bearer " + a.login()
	want := 0
	for row := 0; row < rows; row++ {
		if v, _ := lookertest.Value("users.country", row); v == "France" {
			want++
		}
	}
	require.Positive(t, want)
	q := `{"model":"thelook","view":"orders","fields":["orders.id","users.country"],"filters":{"users.country":"France","orders.created_date":"after 2024-01-01"}}`
	status, _, body := a.call("POST", "/queries/run/json?limit=-1", tok, strings.NewReader(q), "application/json")
	require.Equal(t, 200, status, string(body))
	var got []map[string]any
	require.NoError(t, json.Unmarshal(body, &got))
	require.Len(t, got, want)
	for _, r := range got {
		require.Equal(t, "France", r["users.country"])
	}

	status, _, _ = a.call("POST", "/queries/run/json", tok, strings.NewReader(`{"model":"thelook","view":"orders","fields":["orders.id"],"filters":{"x.y":"1"}}`), "application/json")
	require.Equal(t, 400, status)
}

func TestFaults(t *testing.T) {
	t.Parallel()
	a := newAPI(t, lookertest.Options{Rows: 100})
	tok := "Bearer " + a.login()

	a.srv.FailNext(lookertest.Fault{Status: 503, PathPrefix: "/looks/", RetryAfter: "5", Count: 2})
	a.srv.FailNext(lookertest.Fault{Status: 429})
	status, _, _ := a.call("GET", "/queries/123", tok, nil, "")
	require.Equal(t, 429, status, "the /looks/ fault does not match; the catch-all does")
	for i := 0; i < 2; i++ {
		status, hdr, body := a.call("GET", "/looks/42/run/csv", tok, nil, "")
		require.Equal(t, 503, status)
		require.Equal(t, "5", hdr.Get("Retry-After"))
		require.Contains(t, hdr.Get("Content-Type"), "text/html")
		require.Contains(t, string(body), "<h1>503 Service Unavailable</h1>")
	}
	status, _, _ = a.call("GET", "/looks/42/run/csv", tok, nil, "")
	require.Equal(t, 200, status)
	require.Equal(t, 3, a.srv.Requests("run_look"))

	// Drop after K rows: the body is cut short.
	a.srv.DropNextRun(10)
	req, err := http.NewRequest("GET", a.srv.URL()+"/api/4.0/looks/42/run/csv", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", tok)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	recs, err := csv.NewReader(bytes.NewReader(got)).ReadAll()
	require.NoError(t, err)
	require.Len(t, recs, 11, "header and 10 rows arrived")

	// A stall holds the response until released.
	release := make(chan struct{})
	arrived := a.srv.StallNextRun(release, false)
	done := make(chan int, 1)
	go func() {
		status, _, _ := a.call("GET", "/looks/42/run/csv", tok, nil, "")
		done <- status
	}()
	<-arrived
	select {
	case <-done:
		t.Fatal("stalled request finished before release")
	default:
	}
	close(release)
	require.Equal(t, 200, <-done)
}

func TestCloseReleasesStalls(t *testing.T) {
	t.Parallel()
	srv := lookertest.NewServer(lookertest.Options{})
	a := &api{t: t, srv: srv}
	tok := "Bearer " + a.login()
	arrived := srv.StallNextRun(make(chan struct{}), true)
	req, err := http.NewRequest("GET", srv.URL()+"/api/4.0/looks/42/run/csv", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", tok)
	errc := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		errc <- err
	}()
	<-arrived
	srv.Close() // must not hang on the stalled handler
	<-errc
}

func TestValues(t *testing.T) {
	t.Parallel()
	const n = 5000
	amountRE := regexp.MustCompile(`^\d+\.\d\d$`)
	nullDiscount, nullNote := 0, 0
	countries, statuses := map[string]bool{}, map[string]bool{}
	for row := 0; row < n; row++ {
		id, null := lookertest.Value("orders.id", row)
		require.False(t, null)
		require.Equal(t, itoa(row+1), id)
		if _, null := lookertest.Value("orders.discount", row); null {
			nullDiscount++
		}
		if _, null := lookertest.Value("orders.note", row); null {
			nullNote++
		}
		c, _ := lookertest.Value("users.country", row)
		countries[c] = true
		s, _ := lookertest.Value("orders.status", row)
		statuses[s] = true
		amount, _ := lookertest.Value("orders.amount", row)
		require.True(t, amountRE.MatchString(amount), amount)
		yn, _ := lookertest.Value("orders.is_first_purchase", row)
		require.Contains(t, []string{"Yes", "No"}, yn)
		tm, _ := lookertest.Value("orders.created_time", row)
		_, err := time.Parse("2006-01-02 15:04:05", tm)
		require.NoError(t, err)
		d, _ := lookertest.Value("orders.created_date", row)
		require.Equal(t, tm[:10], d)
		col, _ := lookertest.Value("created_date", row)
		require.Equal(t, d, col, "SQL column names resolve too")
	}
	require.InDelta(t, 0.10, float64(nullDiscount)/n, 0.02)
	require.InDelta(t, 0.30, float64(nullNote)/n, 0.02)
	require.Len(t, countries, 50)
	require.Len(t, statuses, 5)
	a, _ := lookertest.Value("orders.note", 12345)
	b, _ := lookertest.Value("orders.note", 12345)
	require.Equal(t, a, b, "deterministic")
	require.Panics(t, func() { lookertest.Value("orders.nope", 1) })

	// The tricky note values are all present.
	seen := map[string]bool{}
	for row := 0; row < 1000; row++ {
		if v, null := lookertest.Value("orders.note", row); !null {
			seen[v] = true
		}
	}
	require.True(t, seen["café ☕, \"quoted\"\nsecond line"])
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestJSONBiMatchesSpec checks the json_bi metadata against the required
// keys of the official spec, when the spec file is present.
func TestJSONBiMatchesSpec(t *testing.T) {
	t.Parallel()
	specPath := filepath.Join("..", "..", "..", "shared", "looker", "Looker.4.0.oas.json")
	raw, err := os.ReadFile(specPath)
	if os.IsNotExist(err) {
		t.Skipf("spec not found at %s", specPath)
	}
	require.NoError(t, err)
	var spec struct {
		Components struct {
			Schemas map[string]struct {
				Required   []string                   `json:"required"`
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(raw, &spec))
	schemas := spec.Components.Schemas

	a := newAPI(t, lookertest.Options{Rows: 3})
	tok := "Bearer " + a.login()
	for _, path := range []string{"/looks/42/run/json_bi", "/queries/123/run/json_bi"} {
		status, _, body := a.call("GET", path, tok, nil, "")
		require.Equal(t, 200, status)
		var bi map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(body, &bi))
		for _, k := range schemas["JsonBi"].Required {
			require.Contains(t, bi, k)
		}
		var meta map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(bi["metadata"], &meta))
		require.NotEmpty(t, schemas["JsonBiMetadata"].Required)
		for _, k := range schemas["JsonBiMetadata"].Required {
			require.Contains(t, meta, k)
		}
		var bq map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(meta["big_query_metadata"], &bq))
		for k := range schemas["JsonBiBigQueryMetadata"].Properties {
			require.Contains(t, bq, k)
		}
		var fields map[string][]map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(meta["fields"], &fields))
		for _, k := range schemas["JsonBiFields"].Required {
			require.Contains(t, fields, k)
		}
		require.NotEmpty(t, fields["dimensions"])
		for _, group := range []string{"dimensions", "measures"} {
			for _, f := range fields[group] {
				for _, k := range schemas["JsonBiField"].Required {
					require.Contains(t, f, k, "%s field", group)
				}
			}
		}
	}

	// The login answer has every AccessToken property.
	form := url.Values{"client_id": {a.srv.ClientID()}, "client_secret": {a.srv.ClientSecret()}}
	status, _, body := a.call("POST", "/login", "", strings.NewReader(form.Encode()), "application/x-www-form-urlencoded")
	require.Equal(t, 200, status)
	var at map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(body, &at))
	for k := range schemas["AccessToken"].Properties {
		require.Contains(t, at, k)
	}
}

func TestListenAddr(t *testing.T) {
	t.Parallel()
	srv, err := lookertest.Start(lookertest.Options{Addr: "127.0.0.1:0"})
	require.NoError(t, err)
	defer srv.Close()
	require.True(t, strings.HasPrefix(srv.URL(), "http://127.0.0.1:"))
	_, err = lookertest.Start(lookertest.Options{Addr: strings.TrimPrefix(srv.URL(), "http://")})
	require.ErrorContains(t, err, "listen")
}
