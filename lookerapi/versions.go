package lookerapi

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
)

// ErrNotLooker means the base URL answered, but not like a Looker API: a
// login failed with 401/403/404 or a body that is not JSON, and
// GET /api/4.0/versions (which Looker answers without a token) did not
// return Looker's ApiVersion either. Permanent: fix looker.base_url.
var ErrNotLooker = errors.New("the base URL does not look like a Looker API")

// ErrTLS means the TLS certificate of the Looker host was not accepted
// (unknown authority, wrong host name, expired). Permanent: retrying does
// not change a certificate.
var ErrTLS = errors.New("the Looker TLS certificate was not accepted")

// APIVersion is Looker's ApiVersion (spec operation versions,
// GET /versions): the API versions the instance serves.
type APIVersion struct {
	LookerReleaseVersion string              `json:"looker_release_version"`
	CurrentVersion       *APIVersionElement  `json:"current_version"`
	SupportedVersions    []APIVersionElement `json:"supported_versions"`
	APIServerURL         string              `json:"api_server_url"`
	WebServerURL         string              `json:"web_server_url"`
}

// APIVersionElement is Looker's ApiVersionElement.
type APIVersionElement struct {
	Version     *string `json:"version"`
	FullVersion *string `json:"full_version"`
	Status      *string `json:"status"`
	SwaggerURL  *string `json:"swagger_url"`
}

// Versions is GET /api/4.0/versions (spec operation versions), which
// Looker answers without a token. The client asks it when a login fails
// with 401/403/404 or a body that is not JSON, to tell a base URL that is
// not a Looker API from credentials Looker refused. The error of a host
// that does not answer like Looker wraps ErrNotLooker.
func (c *Client) Versions(ctx context.Context) (*APIVersion, error) {
	r := &request{op: "versions", method: http.MethodGet, path: "/versions"}
	resp, err := c.send(ctx, r, "")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		e := c.responseError(r, resp, "")
		return nil, notLooker(e, c.base, fmt.Sprintf("%d %s", e.StatusCode, nonEmpty(e.Message, http.StatusText(e.StatusCode))))
	}
	var v APIVersion
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxErrorBody)).Decode(&v); err != nil || len(v.SupportedVersions) == 0 && v.CurrentVersion == nil {
		e := &Error{Op: r.op, Method: r.method, Path: r.fullPath(), StatusCode: resp.StatusCode}
		return nil, notLooker(e, c.base, "200 with a body that is not Looker's ApiVersion")
	}
	return &v, nil
}

// explainLogin turns a failed login (e: 401/403/404, or a body that is
// not an AccessToken) into an error that says which setting to fix: the
// base URL when GET /versions does not answer like Looker, else the
// client id and secret. A probe that cannot reach the host leaves e as it
// is (with its classification).
func (c *Client) explainLogin(ctx context.Context, e *Error) *Error {
	_, err := c.Versions(ctx)
	var pe *Error
	switch {
	case err == nil:
		switch e.StatusCode {
		case http.StatusNotFound, http.StatusUnauthorized, http.StatusForbidden:
			return credentialsError(e)
		}
		return e // Looker, and the login answer was cut short or not a token: e says so
	case errors.Is(err, ErrNotLooker) && errors.As(err, &pe):
		pe.Op, pe.Method, pe.Path = e.Op, e.Method, e.Path
		pe.Message = fmt.Sprintf("%s (POST /login answered %s)", pe.Message, loginAnswer(e))
		return pe
	}
	return e
}

func loginAnswer(e *Error) string {
	if e.StatusCode == 0 {
		return "a body that is not JSON"
	}
	return strconv.Itoa(e.StatusCode) + " " + nonEmpty(e.Message, http.StatusText(e.StatusCode))
}

func notLooker(e *Error, base, answered string) *Error {
	e.Message = fmt.Sprintf("base_url %s does not look like a Looker API (GET /api/4.0/versions answered %s): check looker.base_url "+
		"(e.g. https://company.looker.com:19999 or https://company.cloud.looker.com)", base, answered)
	e.Err, e.Retryable, e.explained = ErrNotLooker, false, true
	return e
}

// tlsError classes a certificate Looker's host presented and Go refused:
// permanent, and naming the two settings that fix it.
func tlsError(e *Error, base string) *Error {
	var (
		verr  *tls.CertificateVerificationError
		uaerr x509.UnknownAuthorityError
		herr  x509.HostnameError
		cierr x509.CertificateInvalidError
	)
	if !errors.As(e.Err, &verr) && !errors.As(e.Err, &uaerr) && !errors.As(e.Err, &herr) && !errors.As(e.Err, &cierr) {
		return e
	}
	e.Message = fmt.Sprintf("the TLS certificate of %s was not accepted (%v): if the host uses a private CA, point looker.ca_file "+
		"(LOOKERSDK_CA_FILE) at its PEM bundle; if the certificate is self-signed and you accept the risk, set looker.verify_ssl: false "+
		"(LOOKERSDK_VERIFY_SSL=false); if it expired or names another host, fix it on the server or use the host name it was issued for",
		base, e.Err)
	e.Err = fmt.Errorf("%w: %w", ErrTLS, e.Err)
	e.Retryable, e.explained = false, true
	return e
}

// caPool is the system's certificate pool plus the PEM bundle at path.
func caPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("lookerapi: read looker.ca_file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("lookerapi: looker.ca_file %s holds no PEM certificate; give a bundle of -----BEGIN CERTIFICATE----- blocks", path)
	}
	return pool, nil
}
