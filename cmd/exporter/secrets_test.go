package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// No secret reaches a page, an API answer, a metric, an alert or a log
// line: the Looker client secret, the Looker access tokens, the server's
// bearer token and the webhook URL.
func TestSecretsAppearNowhere(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, "127.0.0.1:9464")
	d.failNextLook()
	failed := d.runNow(t, "orders_csv")
	ok := d.runNow(t, "orders_csv")
	d.waitHooks(t, 2)

	var seen []string
	for _, p := range []string{"/", "/jobs/orders_csv", "/jobs/orders_jsonl", "/runs/" + failed.ID, "/runs/" + ok.ID, "/login",
		"/api/v1/jobs", "/api/v1/jobs/orders_csv", "/api/v1/runs", "/api/v1/runs/" + failed.ID, "/api/v1/runs/" + failed.ID + "/log",
		"/api/v1/runs/" + ok.ID + "/log", "/metrics", "/healthz", "/readyz", "/nope", "/runs/nope"} {
		for _, auth := range []bool{false, true} {
			_, body := d.do(t, http.MethodGet, p, auth)
			seen = append(seen, p+"\n"+body)
		}
	}
	_, body := d.do(t, http.MethodPost, "/api/v1/jobs/orders_csv/run", false) // refused: no token
	seen = append(seen, body)
	d.hooks.mu.Lock()
	seen = append(seen, d.hooks.raw...)
	d.hooks.mu.Unlock()
	seen = append(seen, d.logs.String())

	secrets := map[string]string{"client secret": d.looker.ClientSecret(), "bearer token": d.token, "webhook URL": d.hookURL}
	u, err := url.Parse(d.hookURL)
	require.NoError(t, err)
	secrets["webhook path"] = u.Path
	tokens := d.looker.Tokens()
	require.NotEmpty(t, tokens)
	for i, tok := range tokens {
		secrets["looker token "+string(rune('a'+i))] = tok
	}
	all := strings.Join(seen, "\n")
	require.Contains(t, all, "run started") // the log was captured
	for name, s := range secrets {
		require.NotEmpty(t, s)
		require.NotContains(t, all, s, name)
	}
}

// The token rules: POST always needs it; beyond loopback everything but
// the probes does; a cookie session needs a same-origin request.
func TestServerAuth(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, "0.0.0.0:9464") // beyond loopback (the test listener is still 127.0.0.1)

	for _, tc := range []struct {
		method, path string
		auth         bool
		want         int
	}{
		{http.MethodGet, "/healthz", false, http.StatusOK},
		{http.MethodGet, "/readyz", false, http.StatusOK},
		{http.MethodGet, "/login", false, http.StatusOK},
		{http.MethodGet, "/", false, http.StatusUnauthorized},
		{http.MethodGet, "/metrics", false, http.StatusUnauthorized},
		{http.MethodGet, "/api/v1/jobs", false, http.StatusUnauthorized},
		{http.MethodGet, "/api/v1/jobs", true, http.StatusOK},
		{http.MethodGet, "/metrics", true, http.StatusOK},
		{http.MethodGet, "/", true, http.StatusOK},
		{http.MethodPost, "/api/v1/jobs/orders_csv/run", false, http.StatusUnauthorized},
		{http.MethodPost, "/jobs/orders_csv/run", false, http.StatusUnauthorized},
		{http.MethodPost, "/api/v1/jobs/nope/run", true, http.StatusNotFound},
	} {
		code, body := d.do(t, tc.method, tc.path, tc.auth)
		require.Equal(t, tc.want, code, "%s %s auth=%v: %s", tc.method, tc.path, tc.auth, body)
	}

	// A browser session: sign in, then POST from the page (same origin)
	// works and from another site does not.
	jar := &cookieJar{}
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(path string, form url.Values, origin string) *http.Response {
		req, err := http.NewRequest(http.MethodPost, d.base+path, strings.NewReader(form.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "text/html")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := client.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp
	}
	resp := post("/login", url.Values{"token": {"wrong-token-wrong-token"}}, d.base)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	resp = post("/login", url.Values{"token": {d.token}}, "https://evil.example")
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	resp = post("/login", url.Values{"token": {d.token}, "next": {"//evil.example/"}}, d.base)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, "/", resp.Header.Get("Location"))
	require.NotEmpty(t, jar.cookies)
	require.NotContains(t, jar.cookies[0].Value, d.token)

	resp = post("/jobs/orders_csv/run", nil, "https://evil.example")
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	resp = post("/jobs/orders_csv/run", nil, "")
	require.Equal(t, http.StatusForbidden, resp.StatusCode) // neither Origin nor Sec-Fetch-Site
	resp = post("/jobs/orders_csv/run", nil, d.base)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	id, found := strings.CutPrefix(resp.Header.Get("Location"), "/runs/")
	require.True(t, found, resp.Header.Get("Location"))
	require.Equal(t, "succeeded", d.waitRun(t, id).Status)
}

// cookieJar keeps the cookies of one host.
type cookieJar struct{ cookies []*http.Cookie }

func (j *cookieJar) SetCookies(_ *url.URL, cs []*http.Cookie) { j.cookies = append(j.cookies, cs...) }
func (j *cookieJar) Cookies(*url.URL) []*http.Cookie          { return j.cookies }
