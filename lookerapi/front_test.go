package lookerapi_test

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// front is an httptest server in front of the sandbox that answers what
// this package's zone and streaming code asks and the sandbox does not
// serve (yet): GET /setting and GET /connections/{name}. Everything else
// goes to the sandbox unchanged, streamed as it comes.
type front struct {
	URL string

	mu             sync.Mutex
	timezone       *string // Setting.timezone; nil leaves it out
	userTimezones  bool    // Setting.allow_user_timezones
	settingStatus  int     // non-zero: GET /setting answers this status
	dialectStreams *bool   // Dialect.supports_streaming; nil leaves it out
	counts         map[string]int
}

func newFront(t testing.TB, upstream string) *front {
	t.Helper()
	target, err := url.Parse(upstream)
	require.NoError(t, err)
	utc, yes := "UTC", true
	f := &front{timezone: &utc, dialectStreams: &yes, counts: map[string]int{}}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.FlushInterval = -1
	proxy.ErrorLog = log.New(io.Discard, "", 0) // dropped connections are what some tests make
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op := ""
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/api/4.0/setting":
			op = "get_setting"
		case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/api/4.0/connections/"):
			op = "connection"
		default:
			proxy.ServeHTTP(w, r)
			return
		}
		f.mu.Lock()
		f.counts[op]++
		tz, userTZ, status, streams := f.timezone, f.userTimezones, f.settingStatus, f.dialectStreams
		f.mu.Unlock()
		switch {
		case op == "get_setting" && status != 0:
			writeJSON(w, status, map[string]any{"message": http.StatusText(status), "documentation_url": "https://cloud.google.com/looker/docs/r/err/4.0/" + strconv.Itoa(status) + "/get/setting"})
		case op == "get_setting":
			body := map[string]any{"allow_user_timezones": userTZ}
			if tz != nil {
				body["timezone"] = *tz
			}
			writeJSON(w, http.StatusOK, body)
		default:
			d := map[string]any{"name": "postgres", "label": "PostgreSQL"}
			if streams != nil {
				d["supports_streaming"] = *streams
			}
			writeJSON(w, http.StatusOK, map[string]any{"name": strings.TrimPrefix(r.URL.Path, "/api/4.0/connections/"), "dialect": d})
		}
	}))
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

func (f *front) set(fn func(f *front)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// Requests counts the requests front answered itself, by operation.
func (f *front) Requests(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[op]
}

