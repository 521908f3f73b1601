package lookertest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/stretchr/testify/require"
)

// loginAs returns a token acting as user id (POST /login/{user_id}).
func (a *api) loginAs(adminAuth, id string) string {
	a.t.Helper()
	status, _, body := a.call("POST", "/login/"+id, adminAuth, nil, "")
	require.Equal(a.t, 200, status, string(body))
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(a.t, json.Unmarshal(body, &tok))
	return tok.AccessToken
}

// getJSON GETs path and decodes a 200 JSON body into v.
func (a *api) getJSON(path, auth string, v any) {
	a.t.Helper()
	status, _, body := a.call("GET", path, auth, nil, "")
	require.Equal(a.t, 200, status, string(body))
	require.NoError(a.t, json.Unmarshal(body, v))
}

// start sends a request in the background; the answer (or the error) comes
// on the returned channel.
func (a *api) start(ctx context.Context, method, path, auth, body string) <-chan answer {
	out := make(chan answer, 1)
	go func() {
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, a.srv.URL()+"/api/4.0"+path, rd)
		if err != nil {
			out <- answer{err: err}
			return
		}
		req.Header.Set("Authorization", auth)
		req.Header.Set("Content-Type", "application/json")
		resp, err := freshConn.Do(req)
		if err != nil {
			out <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		out <- answer{status: resp.StatusCode, header: resp.Header, body: b, err: err}
	}()
	return out
}

type answer struct {
	status int
	header http.Header
	body   []byte
	err    error
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// createTask creates a query task on QueryID and returns its id.
func (a *api) createTask(auth, format string) string {
	a.t.Helper()
	status, _, body := a.call("POST", "/query_tasks", auth, strings.NewReader(`{"query_id":"123","result_format":"`+format+`"}`), "application/json")
	require.Equal(a.t, 200, status, string(body))
	var task struct {
		ID string `json:"id"`
	}
	require.NoError(a.t, json.Unmarshal(body, &task))
	return task.ID
}

// noRedirects is a client that returns redirects instead of following them.
func noRedirects() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// freshConn sends each request on a new connection: net/http silently
// re-sends a GET whose reused connection closes before the answer, which
// would hide an aborted run behind a second one.
var freshConn = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
