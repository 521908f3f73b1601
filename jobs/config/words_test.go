package config_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/jobs/config"
)

// typeErrorConfig is a valid config with one job, "j"; server, looker and
// the job's keys are spliced in. Line numbers: server on 2, the job's
// extra keys from 8.
func typeErrorConfig(looker, server, job string) []byte {
	return []byte(fmt.Sprintf(`looker: {base_url: https://x.looker.com, client_id: a, client_secret: b%s}
server: {listen: "127.0.0.1:9464"%s}
jobs:
  - name: j
    schedule: '@daily'
    format: csv
    destination: x.csv
%s`, looker, server, job))
}

// TestTypeErrorWords: every value of the wrong kind is reported with the
// file:line, the job, the key path, what the key takes and what was
// written, once, with no follow-on "is required" and none of the YAML
// library's Go-type wording.
func TestTypeErrorWords(t *testing.T) {
	t.Parallel()
	const look = "    source: {look_id: 1}\n"
	for _, tc := range []struct {
		name, looker, server, job string
		want                      string
	}{
		{name: "string", job: look + "    description: [a, b]\n",
			want: `x.yaml:9: job "j": description: expected a string, found a list`},
		{name: "bool", job: look + "    manifest: yes\n",
			want: `x.yaml:9: job "j": manifest: expected true or false, found "yes"`},
		{name: "int", job: look + "    max_rows_per_file: {a: 1}\n",
			want: `x.yaml:9: job "j": max_rows_per_file: expected a whole number, found a mapping`},
		{name: "int fraction", job: look + "    max_rows_per_file: 1.5\n",
			want: `x.yaml:9: job "j": max_rows_per_file: expected a whole number, found the number 1.5`},
		{name: "int from a string of digits", job: look + "    max_rows_per_file: '10'\n"},
		{name: "tag with no value", job: look + "    max_rows_per_file: !0000 \n", // found by FuzzParse
			want: `x.yaml:9: job "j": max_rows_per_file: the tag !0000 has no value after it; write a value after it, or remove the tag`},
		{name: "duration", job: look + "    timeout: {hours: 1}\n",
			want: `x.yaml:9: job "j": timeout: expected a duration such as 90s, 15m or 2h, found a mapping`},
		{name: "nested struct", job: look + "    retries: 3\n",
			want: `x.yaml:9: job "j": retries: expected a mapping with backoff, max_attempts, max_backoff, found the number 3`},
		{name: "nested duration", job: look + "    retries: {backoff: [1m]}\n",
			want: `x.yaml:9: job "j": retries.backoff: expected a duration such as 90s, 15m or 2h, found a list`},
		{name: "list of strings", job: "    source:\n      query: {model: m, view: v, fields: orders.id}\n",
			want: `x.yaml:9: job "j": source.query.fields: expected a list of strings, found "orders.id"`},
		{name: "list item", job: "    source:\n      query:\n        model: m\n        view: v\n        fields: [a, {b: c}, ~]\n",
			want: `x.yaml:12: job "j": source.query.fields[1]: expected a string, found a mapping` + "\n" +
				`x.yaml:12: job "j": source.query.fields[2]: expected a string, found nothing`},
		{name: "map", job: "    source:\n      query: {model: m, view: v, fields: [a], filters: [x]}\n",
			want: `x.yaml:9: job "j": source.query.filters: expected a mapping of names to strings, found a list`},
		{name: "map value", job: "    source:\n      query: {model: m, view: v, fields: [a], filters: {x: [1]}}\n",
			want: `x.yaml:9: job "j": source.query.filters.x: expected a string, found a list`},
		{name: "nested query field", job: "    source:\n      query: {model: [m], view: v, fields: [a]}\n",
			want: `x.yaml:9: job "j": source.query.model: expected a string, found a list`},
		{name: "source", job: "    source: [1]\n",
			want: `x.yaml:8: job "j": source: expected a mapping with one of look_id, query_id, query_slug, query, sql, dashboard_id, found a list`},
		{name: "ID", job: "    source: {look_id: [1]}\n",
			want: `x.yaml:8: job "j": source.look_id: expected a Looker id (a number or a string), found a list`},
		{name: "ID as a string", job: "    source: {look_id: 'abc'}\n"},
		{name: "RowLimit", job: look + "    limit: [1]\n",
			want: `x.yaml:9: job "j": limit: expected a number, -1 or saved, found a list`},
		{name: "RowLimit fraction", job: look + "    limit: 2.5\n",
			want: `x.yaml:9: job "j": limit: expected a number, -1 or saved, found the number 2.5`},
		{name: "ByteSize", job: look + "    max_bytes_per_file: true\n",
			want: `x.yaml:9: job "j": max_bytes_per_file: expected a size such as 512MiB or 2GB, or a number of bytes, found true`},
		{name: "Secret", looker: ", token: x", job: look, // an unknown key, for contrast
			want: `x.yaml:1: unknown key "token" in looker; allowed: base_url, ca_file, client_id, client_secret, client_secret_file, ini_file, ini_section, max_concurrent_queries, read_idle_timeout, timeout, verify_ssl`},
		{name: "Secret list", server: ", token: [a, b]", job: look,
			want: `x.yaml:2: server.token: expected a string, found a list`},
		{name: "server.max_connections", server: ", max_connections: many", job: look,
			want: `x.yaml:2: server.max_connections: expected a whole number, found "many"`},
		{name: "server.max_connections too large", server: ", max_connections: 99999999999999999999", job: look,
			want: `x.yaml:2: server.max_connections: expected a whole number from -9223372036854775808 to 9223372036854775807, found "99999999999999999999"`},
		{name: "top-level bool", looker: ", verify_ssl: 'no'", job: look,
			want: `x.yaml:1: looker.verify_ssl: expected true or false, found "no"`},
		{name: "several at once", job: look + "    limit: [1]\n    manifest: 1\n    cache: {}\n",
			want: `x.yaml:9: job "j": limit: expected a number, -1 or saved, found a list` + "\n" +
				`x.yaml:10: job "j": manifest: expected true or false, found the number 1` + "\n" +
				`x.yaml:11: job "j": cache: expected true or false, found a mapping`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.Parse("x.yaml", typeErrorConfig(tc.looker, tc.server, tc.job), env(nil))
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tc.want)
		})
	}
}

// TestTypeErrorOutsideJobs covers the lists and mappings around the jobs:
// jobs itself, an item of it, defaults and notify.
func TestTypeErrorOutsideJobs(t *testing.T) {
	t.Parallel()
	const head = "looker: {base_url: https://x.looker.com, client_id: a, client_secret: b}\n"
	const job = "  - {name: j, schedule: '@daily', source: {look_id: 1}, format: csv, destination: x.csv}\n"
	for _, tc := range []struct{ name, yaml, want string }{
		{"jobs", head + "jobs: {name: j}\n",
			`x.yaml:2: jobs: expected a list of jobs, found a mapping`},
		{"job item", head + "jobs:\n" + job + "  - [a]\n",
			`x.yaml:4: jobs[1]: expected a job (a mapping with name, schedule, source, ...), found a list`},
		{"defaults", head + "defaults: {limit: {a: 1}}\njobs:\n" + job,
			`x.yaml:2: defaults.limit: expected a number, -1 or saved, found a mapping`},
		{"notify", head + "notify: [{name: n, url: 'https://h.example/x', on: failure}]\njobs:\n" + job,
			`x.yaml:2: notify[0].on: expected a list of strings, found "failure"`},
		{"alias", head + "jobs:\n  - name: j\n    schedule: '@daily'\n    source: &src {look_id: 1}\n    format: csv\n    destination: x.csv\n    limit: *src\n",
			`x.yaml:8: job "j": limit: expected a number, -1 or saved, found a mapping`},
		{"null job", head + "jobs:\n  - ~\n" + job,
			`x.yaml:3: jobs[0]: expected a job (a mapping with name, schedule, source, ...), found nothing`},
		{"notify item", head + "notify: [hook]\njobs:\n" + job,
			`x.yaml:2: notify[0]: expected a webhook (a mapping with name, url, on), found "hook"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.Parse("x.yaml", []byte(tc.yaml), env(nil))
			require.EqualError(t, err, tc.want)
		})
	}
}

// TestTypeErrorSeed: the fuzz seed of type errors reads in the user's words.
func TestTypeErrorSeed(t *testing.T) {
	t.Parallel()
	for _, seed := range []string{"type_errors", "nested_types"} {
		data := readSeed(t, seed)
		_, err := config.Parse("fuzz.yaml", data, env(nil))
		require.Error(t, err)
		requireUserWords(t, err.Error())
	}
}

// requireUserWords fails if msg speaks in Go types.
func requireUserWords(t testing.TB, msg string) {
	t.Helper()
	for _, leak := range goWording {
		if strings.Contains(msg, leak) {
			t.Fatalf("error worded in Go types (%q):\n%s", leak, msg)
		}
	}
}

// goWording is what the YAML library's type errors say.
var goWording = []string{"Go struct field", "interface {}", "unmarshal"}

// readSeed reads a []byte seed of the FuzzParse corpus.
func readSeed(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzParse", name))
	require.NoError(t, err)
	_, lit, ok := strings.Cut(strings.TrimSpace(string(b)), "\n[]byte(")
	require.True(t, ok, "seed %s is not a []byte", name)
	s, err := strconv.Unquote(strings.TrimSuffix(lit, ")"))
	require.NoError(t, err)
	return []byte(s)
}
