package lookerapi_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/lookerexport/exporter/lookerapi"
	"github.com/lookerexport/exporter/lookerapi/lookertest"
)

// TestWrongBaseURLIsToldFromBadCredentials: a login refused by Looker
// (404, as real Looker answers a wrong id/secret) says to check the
// credentials; a host that is not a Looker API (a web server's 404 page, a
// proxy's 401, an HTML 200) says to check looker.base_url, because
// GET /versions, which Looker answers without a token, did not answer like
// Looker. Both are permanent, and they are different errors.
func TestWrongBaseURLIsToldFromBadCredentials(t *testing.T) {
	t.Parallel()
	notLooker := func(status int, contentType, body string) string {
		return newHTTPServer(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", contentType)
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
		}))
	}
	sandbox := lookertest.NewServer(lookertest.Options{})
	t.Cleanup(sandbox.Close)
	tests := []struct {
		name, base, secret string
		want               error
		contains           []string
	}{
		{name: "bad credentials", base: sandbox.URL(), secret: "wrong-secret", want: lookerapi.ErrBadCredentials,
			contains: []string{"Looker refused the client id/secret (404 Not found from POST /login): check LOOKERSDK_CLIENT_ID and LOOKERSDK_CLIENT_SECRET", "API key is enabled"}},
		{name: "web server 404", base: notLooker(404, "text/html", "<html><body><h1>404 Not Found</h1>nginx</body></html>"), want: lookerapi.ErrNotLooker,
			contains: []string{"does not look like a Looker API (GET /api/4.0/versions answered 404 404 Not Found nginx)", "check looker.base_url (e.g. https://company.looker.com:19999", "POST /login answered 404"}},
		{name: "proxy 401", base: notLooker(401, "text/plain", "Unauthorized"), want: lookerapi.ErrNotLooker,
			contains: []string{"GET /api/4.0/versions answered 401 Unauthorized", "check looker.base_url"}},
		{name: "html 200", base: notLooker(200, "text/html", "<html>Welcome</html>"), want: lookerapi.ErrNotLooker,
			contains: []string{"GET /api/4.0/versions answered 200 with a body that is not Looker's ApiVersion", "POST /login answered a body that is not JSON"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := lookerapi.New(lookerapi.Config{BaseURL: tt.base, ClientID: "id", ClientSecret: nonEmptyOr(tt.secret, "s3cret-value"), VerifySSL: true},
				zaptest.NewLogger(t))
			require.NoError(t, err)
			err = c.Login(context.Background())
			require.ErrorIs(t, err, tt.want)
			require.False(t, lookerapi.IsRetryable(err))
			for _, s := range tt.contains {
				require.Contains(t, err.Error(), s)
			}
			prefix := "base_url " + tt.base + " does not look like a Looker API"
			if tt.want == lookerapi.ErrBadCredentials {
				prefix = "Looker refused the client id/secret"
			}
			require.True(t, strings.HasPrefix(err.Error(), prefix), "cause first: %s", err)
			require.NotContains(t, err.Error(), "s3cret-value")
			require.NotContains(t, err.Error(), "wrong-secret")
			if tt.want == lookerapi.ErrBadCredentials {
				require.NotErrorIs(t, err, lookerapi.ErrNotLooker)
				require.Equal(t, 1, sandbox.Requests("versions"), "the login failure was told apart by GET /versions")
			} else {
				require.NotErrorIs(t, err, lookerapi.ErrBadCredentials)
			}
		})
	}
}

func nonEmptyOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// TestVersions: the sandbox answers GET /versions without a token, as
// Looker does.
func TestVersions(t *testing.T) {
	t.Parallel()
	f := setup(t, setupOpts{})
	v, err := f.client.Versions(context.Background())
	require.NoError(t, err)
	require.Equal(t, "4.0", *v.CurrentVersion.Version)
	require.Zero(t, f.srv.Logins(), "no login needed")
}

// TestTLSCertificateErrorsArePermanent: a certificate Go refuses (unknown
// authority, a host name it was not issued for, expired) fails at once,
// permanently, naming looker.ca_file and looker.verify_ssl; with the CA
// in looker.ca_file the same host is trusted, and verify_ssl: false skips
// the check.
func TestTLSCertificateErrorsArePermanent(t *testing.T) {
	t.Parallel()
	sandbox := lookertest.NewServer(lookertest.Options{})
	t.Cleanup(sandbox.Close)
	proxy := func(srv *httptest.Server) *httptest.Server {
		srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			resp, err := http.Post(sandbox.URL()+r.URL.Path, r.Header.Get("Content-Type"), r.Body) //nolint:noctx // test proxy for POST /login only
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			defer resp.Body.Close()
			w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
			w.WriteHeader(resp.StatusCode)
			buf := make([]byte, 64<<10)
			n, _ := resp.Body.Read(buf)
			_, _ = w.Write(buf[:n])
		})
		srv.StartTLS()
		t.Cleanup(srv.Close)
		return srv
	}
	good := proxy(httptest.NewUnstartedServer(nil)) // httptest's cert: 127.0.0.1, ::1, example.com
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: good.Certificate().Raw}), 0o600))

	expired := httptest.NewUnstartedServer(nil)
	expiredPEM := selfSigned(t, expired)
	expiredCA := filepath.Join(t.TempDir(), "expired.pem")
	require.NoError(t, os.WriteFile(expiredCA, expiredPEM, 0o600))
	proxy(expired)

	port := good.URL[strings.LastIndex(good.URL, ":"):]
	tests := []struct {
		name, base, caFile string
		verify             bool
		want               string // "" means the login succeeds
	}{
		{name: "unknown authority", base: good.URL, verify: true, want: "certificate signed by unknown authority"},
		{name: "host name mismatch", base: "https://localhost" + port, caFile: caFile, verify: true, want: "not localhost"},
		{name: "expired", base: expired.URL, caFile: expiredCA, verify: true, want: "expired"},
		{name: "trusted through ca_file", base: good.URL, caFile: caFile, verify: true},
		{name: "verify_ssl false", base: good.URL, verify: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := lookerapi.New(lookerapi.Config{BaseURL: tt.base, ClientID: sandbox.ClientID(), ClientSecret: sandbox.ClientSecret(),
				VerifySSL: tt.verify, CAFile: tt.caFile}, zaptest.NewLogger(t))
			require.NoError(t, err)
			err = c.Login(context.Background())
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, lookerapi.ErrTLS)
			require.False(t, lookerapi.IsRetryable(err), "a certificate does not change on retry")
			require.Contains(t, err.Error(), tt.want)
			require.True(t, strings.HasPrefix(err.Error(), "the TLS certificate of "), "cause first: %s", err)
			require.Contains(t, err.Error(), "looker.ca_file")
			require.Contains(t, err.Error(), "looker.verify_ssl: false")
		})
	}
}

// selfSigned gives srv an expired self-signed certificate for 127.0.0.1
// and returns it as PEM.
func selfSigned(t *testing.T, srv *httptest.Server) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "expired looker"},
		NotBefore: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
