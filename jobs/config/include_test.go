package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/jobs/config"
)

const includeMain = `looker: {base_url: https://x.looker.com, client_id: a, client_secret: b}
include: [jobs.d/*.yaml]
defaults: {format: csv}
jobs:
  - {name: main-job, schedule: '@daily', source: {look_id: 1}, destination: m.csv}
`

func includeJob(name string) string {
	return "  - name: " + name + "\n    schedule: '@daily'\n    source: {look_id: 1}\n    destination: " + name + ".csv\n"
}

// parseFS loads conf/main.yaml from files.
func parseFS(t *testing.T, files map[string]string) (*config.Config, error) {
	t.Helper()
	fsys := fstest.MapFS{}
	for name, data := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(data)}
	}
	opts := env(nil)
	opts.FS = fsys
	return config.Parse("conf/main.yaml", []byte(files["conf/main.yaml"]), opts)
}

func TestIncludeJobs(t *testing.T) {
	t.Parallel()
	cfg, err := parseFS(t, map[string]string{
		"conf/main.yaml":         includeMain,
		"conf/jobs.d/b.yaml":     "jobs:\n" + includeJob("b1"),
		"conf/jobs.d/a.yaml":     "# team a\njobs:\n" + includeJob("a1") + includeJob("a2"),
		"conf/jobs.d/c.yml":      "not: matched",
		"conf/jobs.d/empty.yaml": "",
	})
	require.NoError(t, err)
	require.Equal(t, []string{"main-job", "a1", "a2", "b1"}, cfg.JobNames())
	a2 := cfg.Job("a2")
	require.Equal(t, "conf/jobs.d/a.yaml", a2.File)
	require.Equal(t, 7, a2.Line)
	require.Equal(t, "csv", string(a2.Plan.Format), "defaults of the main file apply")
	require.Equal(t, "conf/main.yaml", cfg.Job("main-job").File)
}

// TestIncludeErrors: every problem names the file and line it is in.
func TestIncludeErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"problem in an included file", map[string]string{
			"conf/jobs.d/a.yaml": "jobs:\n" + includeJob("a1") + "    limit: [1]\n" + includeJob("a2") + "    timezone: Mars/Base\n",
		}, `conf/jobs.d/a.yaml:6: job "a1": limit: expected a number, -1 or saved, found a list` + "\n" +
			`conf/jobs.d/a.yaml:11: job "a2": timezone "Mars/Base" is not an IANA time zone name such as UTC, Europe/Berlin or America/New_York`},
		{"unknown key in an included job", map[string]string{
			"conf/jobs.d/a.yaml": "jobs:\n" + includeJob("a1") + "    formt: csv\n",
		}, `conf/jobs.d/a.yaml:6: job "a1": unknown key "formt" in the job; did you mean "format"?`},
		{"settings in an included file", map[string]string{
			"conf/jobs.d/a.yaml": "looker: {base_url: https://y.looker.com}\njobs:\n" + includeJob("a1"),
		}, `conf/jobs.d/a.yaml:1: "looker" in an included file: an included file holds only jobs: (a list of jobs); settings and defaults belong in the main file`},
		{"not a mapping", map[string]string{
			"conf/jobs.d/a.yaml": includeJob("a1"),
		}, `conf/jobs.d/a.yaml:1: an included file holds only jobs: (a list of jobs); settings and defaults belong in the main file`},
		{"include in an included file", map[string]string{
			"conf/jobs.d/a.yaml": "include: [more/*.yaml]\njobs:\n" + includeJob("a1"),
		}, `conf/jobs.d/a.yaml:1: an included file may not include others; list every file in the include: of conf/main.yaml`},
		{"duplicate across files", map[string]string{
			"conf/jobs.d/a.yaml": "jobs:\n" + includeJob("a1"),
			"conf/jobs.d/b.yaml": "jobs:\n" + includeJob("x") + includeJob("a1") + includeJob("main-job"),
		}, `conf/jobs.d/b.yaml:6: job "a1": duplicate job name; the first is in conf/jobs.d/a.yaml:2` + "\n" +
			`conf/jobs.d/b.yaml:10: job "main-job": duplicate job name; the first is in conf/main.yaml:5`},
		{"missing literal path", map[string]string{
			"conf/main.yaml": strings.Replace(includeMain, "[jobs.d/*.yaml]", "[jobs.d/*.yaml, teams/x.yaml]", 1),
		}, `conf/main.yaml:2: include "teams/x.yaml": no such file`},
		{"bad glob", map[string]string{
			"conf/main.yaml": strings.Replace(includeMain, "[jobs.d/*.yaml]", "['jobs.d/[a.yaml']", 1),
		}, `conf/main.yaml:2: include "jobs.d/[a.yaml": not a valid glob; use *, ? and [a-z] as in jobs.d/*.yaml`},
		{"include not a list", map[string]string{
			"conf/main.yaml": strings.Replace(includeMain, "[jobs.d/*.yaml]", "jobs.d/*.yaml", 1),
		}, `conf/main.yaml:2: include: expected a list of strings, found "jobs.d/*.yaml"`},
		{"included file too deep", map[string]string{
			"conf/jobs.d/a.yaml": "jobs:\n" + includeJob("a1") + "    description: " + strings.Repeat("[", 70) + strings.Repeat("]", 70) + "\n",
		}, `conf/jobs.d/a.yaml:6: config nests deeper than 64 levels of mappings, lists and brackets`},
		{"included file too large", map[string]string{
			"conf/jobs.d/a.yaml": "jobs:\n" + strings.Repeat("#", config.MaxFileSize),
		}, `conf/jobs.d/a.yaml: config is 8.0 MiB (8388614 bytes), over the limit of 8.0 MiB; split the jobs into files and include them`},
		{"problems of several files in file order", map[string]string{
			"conf/main.yaml":     strings.Replace(includeMain, "m.csv}", "m.csv, timeout: forever}", 1),
			"conf/jobs.d/b.yaml": "jobs:\n" + includeJob("b1") + "    timeout: never\n",
			"conf/jobs.d/a.yaml": "jobs:\n" + includeJob("a1") + "    timeout: always\n",
		}, `conf/main.yaml:5: job "main-job": timeout: "forever" is not a duration; write e.g. 90s, 15m or 2h` + "\n" +
			`conf/jobs.d/a.yaml:6: job "a1": timeout: "always" is not a duration; write e.g. 90s, 15m or 2h` + "\n" +
			`conf/jobs.d/b.yaml:6: job "b1": timeout: "never" is not a duration; write e.g. 90s, 15m or 2h`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, ok := tc.files["conf/main.yaml"]; !ok {
				tc.files["conf/main.yaml"] = includeMain
			}
			_, err := parseFS(t, tc.files)
			require.EqualError(t, err, tc.want)
		})
	}
}

// TestIncludeFromDisk loads real files: paths relative to the including
// file, an absolute include, and a glob that matches nothing.
func TestIncludeFromDisk(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	abs := filepath.Join(t.TempDir(), "abs.yaml")
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "jobs.d"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "jobs.d", "a.yaml"), []byte("jobs:\n"+includeJob("a1")), 0o644))
	require.NoError(t, os.WriteFile(abs, []byte("jobs:\n"+includeJob("abs")), 0o644))
	main := strings.Replace(includeMain, "[jobs.d/*.yaml]", "[jobs.d/*.yaml, nothing/*.yaml, '"+abs+"']", 1)
	path := filepath.Join(dir, "main.yaml")
	require.NoError(t, os.WriteFile(path, []byte(main), 0o644))
	cfg, err := config.Load(path, env(nil))
	require.NoError(t, err)
	require.Equal(t, []string{"main-job", "a1", "abs"}, cfg.JobNames())
	require.Equal(t, filepath.Join(dir, "jobs.d", "a.yaml"), cfg.Job("a1").File)
}
