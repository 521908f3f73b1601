// Package contract checks HTTP traffic against Looker's official API 4.0
// OpenAPI spec (Looker.4.0.oas.json, read from ../shared/looker/ beside the
// module root; never copied into the repository). Tests wrap a client's
// transport with Validator.Transport: every request is validated with
// openapi3filter.ValidateRequest before it is sent and every response with
// openapi3filter.ValidateResponse when it arrives; Validator.Require fails
// the test on any violation.
//
// What the spec does not declare, but real Looker does, is handled here
// explicitly rather than by turning validation off:
//
//   - 401 is declared for no operation, yet Looker answers it for a
//     missing, unknown or expired token. A 401 must carry Looker's Error
//     body; it is validated against components/schemas/Error.
//
//   - The spec declares no security scheme at all; every request but
//     login (which carries the id and secret) and versions (which Looker
//     answers without a token: the API Explorer and the SDKs' codegen read
//     it before logging in, and the client asks it after a refused login
//     to tell a wrong base URL from wrong credentials) must carry an
//     Authorization header.
//
//   - The run endpoints declare the media type key "text", which is not a
//     media type. It is read as "text/*" (csv, txt, html, md), plus
//     "application/sql", the type of result_format=sql that Looker's API
//     Explorer expects and the spec has no key for.
//
//   - Result bodies (run_look, run_query, run_inline_query, run_sql_query,
//     query_task_results, logout) are declared as {type: string} under
//     application/json, but the body is the JSON document itself (an array
//     for json, an object for json_bi), or empty for 204. Such bodies are
//     checked to be well-formed JSON (or empty for 204) instead of being
//     matched against "string".
//
//   - 5xx answers with an HTML body come from proxies in front of Looker,
//     not from Looker's API; tests that inject them list them with
//     AllowProxyErrors. They are counted, not validated.
//
//   - Two schema quirks: `type: "any"` is read as any value, and an enum
//     on an array schema as an enum on its items (see fixSchema).
//
// Nothing else is relaxed: unknown operations, undeclared statuses,
// parameters of the wrong type, bodies that do not match their schema and
// undeclared content types are violations.
package contract

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// SpecPath returns the path of Looker.4.0.oas.json: ../shared/looker/
// beside the module root found above the working directory.
func SpecPath() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "..", "shared", "looker", "Looker.4.0.oas.json"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// specServer is the server URL the spec declares; requests are matched to
// operations as if sent there.
const specServer = "https://localhost:20000"

type loaded struct {
	doc    *openapi3.T
	router routers.Router
	errs   *openapi3.Schema
}

var (
	loadOnce sync.Once
	spec     *loaded
	specErr  error
)

// load reads and prepares the spec once per test binary: parsing 2 MB of
// spec per test would dominate the suite's run time.
func load(path string) (*loaded, error) {
	loadOnce.Do(func() {
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromFile(path)
		if err != nil {
			specErr = fmt.Errorf("load %s: %w", path, err)
			return
		}
		normalize(doc)
		router, err := gorillamux.NewRouter(doc)
		if err != nil {
			specErr = fmt.Errorf("route %s: %w", path, err)
			return
		}
		errSchema := doc.Components.Schemas["Error"]
		if errSchema == nil || errSchema.Value == nil {
			specErr = errors.New("the spec has no Error schema")
			return
		}
		// Looker sends result_format=sql as application/sql (see the
		// package doc); its body is plain text.
		openapi3filter.RegisterBodyDecoder("application/sql", openapi3filter.PlainBodyDecoder)
		spec = &loaded{doc: doc, router: router, errs: errSchema.Value}
	})
	return spec, specErr
}

// normalize applies the quirks listed in the package doc.
func normalize(doc *openapi3.T) {
	seen := map[*openapi3.Schema]bool{}
	for _, ref := range doc.Components.Schemas {
		fixSchema(ref, seen)
	}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			for _, resp := range op.Responses.Map() {
				if resp.Value == nil {
					continue
				}
				if mt, ok := resp.Value.Content["text"]; ok {
					delete(resp.Value.Content, "text")
					resp.Value.Content["text/*"] = mt
					resp.Value.Content["application/sql"] = mt
				}
			}
		}
	}
}

// fixSchema repairs two schema quirks of the spec, recursively:
//
//   - `type: "any"` (with `format: "any"`), used for free-form values such
//     as Query.vis_config entries, is not an OpenAPI 3.0 type and would
//     reject every value; it is read as "any value" (no type).
//   - An enum placed on an array schema (e.g.
//     LookmlModelExploreField.user_attribute_filter_types) lists the
//     allowed items, not allowed arrays; it is moved to the items.
func fixSchema(ref *openapi3.SchemaRef, seen map[*openapi3.Schema]bool) {
	if ref == nil || ref.Value == nil || seen[ref.Value] {
		return
	}
	s := ref.Value
	seen[s] = true
	if s.Type != nil && s.Type.Is("any") {
		s.Type = nil
		s.Format = ""
	}
	if s.Type != nil && s.Type.Is("array") && len(s.Enum) > 0 && s.Items != nil && s.Items.Value != nil {
		items := *s.Items.Value
		items.Enum = s.Enum
		s.Items = &openapi3.SchemaRef{Value: &items}
		s.Enum = nil
	}
	for _, p := range s.Properties {
		fixSchema(p, seen)
	}
	fixSchema(s.Items, seen)
	if s.AdditionalProperties.Schema != nil {
		fixSchema(s.AdditionalProperties.Schema, seen)
	}
	for _, l := range []openapi3.SchemaRefs{s.AllOf, s.AnyOf, s.OneOf} {
		for _, r := range l {
			fixSchema(r, seen)
		}
	}
}

// Validator validates traffic and collects violations. It is safe for
// concurrent use.
type Validator struct {
	spec *loaded

	mu          sync.Mutex
	violations  []string
	checked     map[string]int // operation id -> responses validated
	proxyErrors int
	allowProxy  bool
}

// New loads the spec. When the file is missing the test fails if the
// environment variable CI is set, and is skipped otherwise, saying so.
func New(t testing.TB) *Validator {
	t.Helper()
	path, err := SpecPath()
	if err != nil {
		t.Fatalf("contract: %v", err)
	}
	if _, err := os.Stat(path); err != nil {
		msg := fmt.Sprintf("contract: the Looker API spec is not at %s (%v); it comes with the repository's shared/looker directory", path, err)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg + "; skipping the contract test")
	}
	s, err := load(path)
	if err != nil {
		t.Fatalf("contract: %v", err)
	}
	return &Validator{spec: s, checked: map[string]int{}}
}

// AllowProxyErrors accepts 5xx answers with HTML bodies (injected proxy
// faults) without validating them.
func (v *Validator) AllowProxyErrors() { v.mu.Lock(); v.allowProxy = true; v.mu.Unlock() }

// Transport returns a RoundTripper that validates every request before
// sending it with base, and every response (read whole) when it arrives.
func (v *Validator) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{v: v, base: base}
}

// Checked returns how many responses were validated per operation id.
func (v *Validator) Checked() map[string]int {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make(map[string]int, len(v.checked))
	for k, n := range v.checked {
		out[k] = n
	}
	return out
}

// Violations returns the violations found so far.
func (v *Validator) Violations() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]string(nil), v.violations...)
}

// Require fails t if any violation was found.
func (v *Validator) Require(t testing.TB) {
	t.Helper()
	if vs := v.Violations(); len(vs) > 0 {
		t.Fatalf("contract: %d violation(s) of Looker.4.0.oas.json:\n%s", len(vs), strings.Join(vs, "\n"))
	}
}

func (v *Validator) violate(format string, args ...any) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.violations = append(v.violations, fmt.Sprintf(format, args...))
}

type transport struct {
	v    *Validator
	base http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	in, where := t.v.validateRequest(req, body)

	resp, err := t.base.RoundTrip(req)
	if err != nil || in == nil {
		return resp, err
	}
	data, readErr := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if readErr != nil {
		// A body cut short (an injected drop) is not a response to
		// validate; hand the client what arrived and then the error.
		resp.Body = io.NopCloser(io.MultiReader(bytes.NewReader(data), errReader{readErr}))
		return resp, nil
	}
	resp.Body = io.NopCloser(bytes.NewReader(data))
	t.v.validateResponse(in, where, resp, data)
	return resp, nil
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// validateRequest finds the operation of req and validates req; it returns
// nil when req matches no operation (a violation in itself).
func (v *Validator) validateRequest(req *http.Request, body []byte) (*openapi3filter.RequestValidationInput, string) {
	u := *req.URL
	target, _ := url.Parse(specServer)
	u.Scheme, u.Host = target.Scheme, target.Host
	clone := req.Clone(context.Background())
	clone.URL = &u
	clone.Host = target.Host
	if body != nil {
		clone.Body = io.NopCloser(bytes.NewReader(body))
	}
	where := req.Method + " " + req.URL.Path
	route, params, err := v.spec.router.FindRoute(clone)
	if err != nil {
		v.violate("%s: no operation in the spec: %v", where, err)
		return nil, where
	}
	where = route.Operation.OperationID + " " + where
	in := &openapi3filter.RequestValidationInput{
		Request: clone, PathParams: params, Route: route,
		Options: &openapi3filter.Options{MultiError: true, AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
	}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		v.violate("%s: request: %v", where, err)
	}
	if op := route.Operation.OperationID; op != "login" && op != "versions" && req.Header.Get("Authorization") == "" {
		v.violate("%s: request has no Authorization header", where)
	}
	return in, where
}

func (v *Validator) validateResponse(in *openapi3filter.RequestValidationInput, where string, resp *http.Response, data []byte) {
	op := in.Route.Operation
	ct := resp.Header.Get("Content-Type")
	v.mu.Lock()
	v.checked[op.OperationID]++
	allowProxy := v.allowProxy
	v.mu.Unlock()

	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		// Undeclared, but Looker's: must be an Error body.
		var doc any
		if err := json.Unmarshal(data, &doc); err != nil {
			v.violate("%s: 401 body is not JSON: %v", where, err)
			return
		}
		if err := v.spec.errs.VisitJSON(doc, openapi3.VisitAsResponse()); err != nil {
			v.violate("%s: 401 body is not an Error: %v", where, err)
		}
		return
	case resp.StatusCode >= 500 && strings.HasPrefix(ct, "text/html"):
		if !allowProxy {
			v.violate("%s: %d with an HTML body (a proxy error) in a test that does not inject them", where, resp.StatusCode)
			return
		}
		v.mu.Lock()
		v.proxyErrors++
		v.mu.Unlock()
		return
	}

	opts := &openapi3filter.Options{MultiError: true, IncludeResponseStatus: true}
	if declaredString(op, resp.StatusCode, ct) {
		// Result bodies: see the package doc.
		opts.ExcludeResponseBody = true
		switch {
		case resp.StatusCode == http.StatusNoContent:
			if len(data) != 0 {
				v.violate("%s: 204 with a body", where)
			}
		case strings.HasPrefix(ct, "application/json") && !json.Valid(data):
			v.violate("%s: %d application/json result is not well-formed JSON", where, resp.StatusCode)
		}
		if content := responseContent(op, resp.StatusCode); content != nil && len(content) > 0 && resp.StatusCode != http.StatusNoContent && content.Get(ct) == nil {
			v.violate("%s: %d content type %q is not declared", where, resp.StatusCode, ct)
		}
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Body: io.NopCloser(bytes.NewReader(data)), Options: opts,
	}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		v.violate("%s: response %d: %v", where, resp.StatusCode, err)
	}
}

func responseContent(op *openapi3.Operation, status int) openapi3.Content {
	r := op.Responses.Status(status)
	if r == nil || r.Value == nil {
		return nil
	}
	return r.Value.Content
}

// declaredString reports whether the response is declared as a bare
// {type: string} under the media type ct (or, for 204, under any).
func declaredString(op *openapi3.Operation, status int, ct string) bool {
	content := responseContent(op, status)
	if content == nil {
		return false
	}
	mt := content.Get(ct)
	if status == http.StatusNoContent {
		for _, m := range content {
			mt = m
		}
	}
	if mt == nil || mt.Schema == nil || mt.Schema.Value == nil || mt.Schema.Ref != "" {
		return false
	}
	return mt.Schema.Value.Type.Is("string") && len(mt.Schema.Value.Properties) == 0
}
