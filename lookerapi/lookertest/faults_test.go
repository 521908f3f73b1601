package lookertest_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/lookerapi/lookertest"
)

func TestInBandErrors(t *testing.T) {
	t.Parallel()
	const msg = `SQL Error: relation "orders" does not exist`
	tests := []struct {
		format  string
		variant lookertest.InBandVariant
		ct      string
		check   func(t *testing.T, body []byte)
	}{
		{"json", lookertest.InBandRows, "application/json", func(t *testing.T, body []byte) {
			var rows []map[string]string
			require.NoError(t, json.Unmarshal(body, &rows))
			require.Equal(t, []map[string]string{{"looker_error": msg}}, rows)
		}},
		{"json_bi", lookertest.InBandRows, "application/json", func(t *testing.T, body []byte) {
			var bi struct {
				Metadata map[string]any      `json:"metadata"`
				Rows     []map[string]string `json:"rows"`
			}
			require.NoError(t, json.Unmarshal(body, &bi))
			require.NotEmpty(t, bi.Metadata)
			require.Equal(t, []map[string]string{{"looker_error": msg}}, bi.Rows)
		}},
		{"csv", lookertest.InBandRows, "text/csv", func(t *testing.T, body []byte) {
			require.Equal(t, "looker_error\n\""+strings.ReplaceAll(msg, `"`, `""`)+"\"\n", string(body))
		}},
		{"txt", lookertest.InBandRows, "text/plain", func(t *testing.T, body []byte) {
			require.Equal(t, "looker_error\n"+msg+"\n", string(body))
		}},
		{"csv", lookertest.InBandObject, "text/csv", func(t *testing.T, body []byte) {
			var obj map[string]string
			require.NoError(t, json.Unmarshal(body, &obj))
			require.Equal(t, map[string]string{"looker_error": msg}, obj)
		}},
		{"json_bi", lookertest.InBandObject, "application/json", func(t *testing.T, body []byte) {
			var obj map[string]string
			require.NoError(t, json.Unmarshal(body, &obj))
			require.Equal(t, msg, obj["looker_error"])
		}},
		{"csv", lookertest.InBandText, "text/csv", func(t *testing.T, body []byte) {
			require.Equal(t, msg+"\n", string(body))
		}},
		{"json", lookertest.InBandText, "application/json", func(t *testing.T, body []byte) {
			require.Equal(t, msg+"\n", string(body))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.format+"/"+strings.Fields("rows object text")[tt.variant], func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, lookertest.Options{Rows: 5})
			tok := "Bearer " + a.login()
			a.srv.InBandErrorNextRun(msg, tt.variant)
			status, h, body := a.call("GET", "/looks/42/run/"+tt.format, tok, nil, "")
			require.Equal(t, 200, status, "the error comes with HTTP 200")
			require.Contains(t, h.Get("Content-Type"), tt.ct)
			tt.check(t, body)
			// One run only: the next one is data again.
			status, _, body = a.call("GET", "/looks/42/run/"+tt.format, tok, nil, "")
			require.Equal(t, 200, status)
			require.NotContains(t, string(body), "looker_error")
		})
	}
}

func TestInBandErrorInTaskResults(t *testing.T) {
	t.Parallel()
	a := newAPI(t, lookertest.Options{Rows: 5})
	tok := "Bearer " + a.login()
	id := a.createTask(tok, "json")
	a.getJSON("/query_tasks/"+id, tok, &map[string]any{})
	a.srv.InBandErrorNextRun("boom", lookertest.InBandRows)
	status, _, body := a.call("GET", "/query_tasks/"+id+"/results", tok, nil, "")
	require.Equal(t, 200, status)
	require.JSONEq(t, `[{"looker_error":"boom"}]`, string(body))
}

func TestHTMLNextRun(t *testing.T) {
	t.Parallel()
	a := newAPI(t, lookertest.Options{Rows: 5})
	tok := "Bearer " + a.login()
	a.srv.HTMLNextRun()
	status, h, body := a.call("GET", "/queries/123/run/csv", tok, nil, "")
	require.Equal(t, 200, status)
	require.Contains(t, h.Get("Content-Type"), "text/html")
	require.True(t, strings.HasPrefix(string(body), "<!DOCTYPE html>"))
	status, h, _ = a.call("GET", "/queries/123/run/csv", tok, nil, "")
	require.Equal(t, 200, status)
	require.Contains(t, h.Get("Content-Type"), "text/csv")
}

func TestRedirectNext(t *testing.T) {
	t.Parallel()
	a := newAPI(t, lookertest.Options{Rows: 5})
	a.client = noRedirects()
	tok := "Bearer " + a.login()
	for _, code := range []int{302, 307, 308} {
		a.srv.RedirectNext("run_look", "http://127.0.0.1:1/api/4.0/looks/42/run/csv", code)
		status, h, _ := a.call("GET", "/looks/42/run/csv", tok, nil, "")
		require.Equal(t, code, status)
		require.Equal(t, "http://127.0.0.1:1/api/4.0/looks/42/run/csv", h.Get("Location"))
	}
	a.srv.RedirectNext("login", "https://evil.example/api/4.0/login", 307)
	status, h, _ := a.call("POST", "/login", "", strings.NewReader("client_id=x&client_secret=y"), "application/x-www-form-urlencoded")
	require.Equal(t, 307, status)
	require.Equal(t, "https://evil.example/api/4.0/login", h.Get("Location"))
	require.Equal(t, 1, a.srv.Logins(), "a redirected login is not a login")
	status, _, _ = a.call("GET", "/looks/42/run/csv", tok, nil, "")
	require.Equal(t, 200, status, "redirects are one-shot")
}

func TestTokenTTLZeroOrNegative(t *testing.T) {
	t.Parallel()
	for _, ttl := range []int64{0, -30} {
		a := newAPI(t, lookertest.Options{Rows: 1})
		a.srv.SetTokenTTL(time.Duration(ttl) * time.Second)
		form := "client_id=" + a.srv.ClientID() + "&client_secret=" + a.srv.ClientSecret()
		status, _, body := a.call("POST", "/login", "", strings.NewReader(form), "application/x-www-form-urlencoded")
		require.Equal(t, 200, status)
		var tok struct {
			AccessToken string `json:"access_token"`
			ExpiresIn   int64  `json:"expires_in"`
		}
		require.NoError(t, json.Unmarshal(body, &tok))
		require.Equal(t, ttl, tok.ExpiresIn)
		status, _, _ = a.call("GET", "/looks/42", "Bearer "+tok.AccessToken, nil, "")
		require.Equal(t, 200, status, "the session is alive whatever expires_in says")
	}
}
