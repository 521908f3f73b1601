package lookerapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/lookerexport/exporter/lookerapi"
)

// Credentials and data stay with the base URL: a redirect to another
// scheme, host or port is refused, with an error naming its target
// (without the query string), and nothing reaches the other host.
func TestRedirectsStayOnTheBaseURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		op        string // the redirected operation
		status    int
		elsewhere bool // to the other server; else to the same server
	}{
		{"login 307 to another port", "login", http.StatusTemporaryRedirect, true},
		{"login 308 to another port", "login", http.StatusPermanentRedirect, true},
		{"run 302 to another port", "run_look", http.StatusFound, true},
		{"run 307 to another port", "run_look", http.StatusTemporaryRedirect, true},
		{"run 302 on the same server", "run_look", http.StatusFound, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var reached atomic.Int64
			other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				reached.Add(1)
				w.Header().Set("Content-Type", "text/csv")
				_, _ = w.Write([]byte("stolen\n1\n"))
			}))
			t.Cleanup(other.Close)
			var self string
			mux := http.NewServeMux()
			mux.HandleFunc("POST /api/4.0/login", func(w http.ResponseWriter, r *http.Request) {
				if tt.op == "login" {
					w.Header().Set("Location", other.URL+"/api/4.0/login?client_secret=in-the-query")
					w.WriteHeader(tt.status)
					return
				}
				writeJSON(w, http.StatusOK, map[string]any{"access_token": "tok", "token_type": "Bearer", "expires_in": 3600})
			})
			mux.HandleFunc("GET /api/4.0/looks/42", func(w http.ResponseWriter, r *http.Request) {
				// The run reads the Look's saved query (and its zone) first.
				writeJSON(w, http.StatusOK, map[string]any{"id": "42", "query_id": "55", "query": fakeSavedQuery("55")})
			})
			mux.HandleFunc("GET /api/4.0/looks/42/run/csv", func(w http.ResponseWriter, r *http.Request) {
				target := other.URL + "/elsewhere/data.csv?token=abc"
				if !tt.elsewhere {
					target = self + "/api/4.0/looks/43/run/csv"
				}
				w.Header().Set("Location", target)
				w.WriteHeader(tt.status)
			})
			mux.HandleFunc("GET /api/4.0/looks/43/run/csv", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/csv")
				_, _ = w.Write([]byte("id\n1\n"))
			})
			srv := httptest.NewServer(mux)
			t.Cleanup(srv.Close)
			self = srv.URL
			c, err := lookerapi.New(lookerapi.Config{BaseURL: srv.URL, ClientID: "id", ClientSecret: "the-secret"}, zaptest.NewLogger(t))
			require.NoError(t, err)

			res, err := c.Run(context.Background(), lookerapi.Source{LookID: "42"}, lookerapi.RunOptions{ResultFormat: "csv"})
			if !tt.elsewhere {
				require.NoError(t, err)
				require.Equal(t, "id\n1\n", string(readAll(t, res)))
				return
			}
			require.ErrorIs(t, err, lookerapi.ErrRedirect)
			require.False(t, lookerapi.IsRetryable(err))
			var e *lookerapi.Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, tt.op, e.Op)
			require.Equal(t, tt.status, e.StatusCode)
			wantTarget := other.URL + "/api/4.0/login"
			if tt.op != "login" {
				wantTarget = other.URL + "/elsewhere/data.csv"
			}
			require.Contains(t, err.Error(), wantTarget, "names the target as scheme://host:port/path")
			require.Contains(t, err.Error(), "looker.base_url")
			require.NotContains(t, err.Error(), "?")
			require.NotContains(t, err.Error(), "in-the-query")
			require.NotContains(t, err.Error(), "the-secret")
			require.Zero(t, reached.Load(), "nothing reached the other host")
		})
	}
}
