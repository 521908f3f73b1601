package lookerapi_test

import (
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/lookerexport/exporter/lookerapi"
	"github.com/lookerexport/exporter/lookerapi/lookertest"
)

// Each sync run request goes out on a new connection, so that the
// transport never sends it twice; over https every run after the first
// resumes the client's TLS session instead of a full handshake.
func TestRunsResumeTheTLSSession(t *testing.T) {
	t.Parallel()
	sandbox := lookertest.NewServer(lookertest.Options{})
	t.Cleanup(sandbox.Close)
	target, err := url.Parse(sandbox.URL())
	require.NoError(t, err)

	var mu sync.Mutex
	var runs []bool // per run request: whether its connection resumed a session
	proxy := httptest.NewUnstartedServer(nil)
	rp := httputil.NewSingleHostReverseProxy(target)
	proxy.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/run/") {
			mu.Lock()
			runs = append(runs, r.TLS.DidResume)
			mu.Unlock()
		}
		rp.ServeHTTP(w, r)
	})
	proxy.StartTLS()
	t.Cleanup(proxy.Close)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: proxy.Certificate().Raw}), 0o600))

	c, err := lookerapi.New(lookerapi.Config{BaseURL: proxy.URL, ClientID: sandbox.ClientID(), ClientSecret: sandbox.ClientSecret(),
		VerifySSL: true, CAFile: caFile}, zaptest.NewLogger(t))
	require.NoError(t, err)
	for range 3 {
		res, err := c.Run(context.Background(), lookerapi.Source{LookID: lookertest.LookID}, lookerapi.RunOptions{ResultFormat: "csv"})
		require.NoError(t, err)
		require.NotEmpty(t, readAll(t, res))
	}
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, runs, 3)
	require.Equal(t, []bool{true, true}, runs[1:], "the runs after the first resumed the TLS session")
}
