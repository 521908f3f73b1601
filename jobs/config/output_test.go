package config_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/jobs/config"
)

func outputJob(t *testing.T, keys string) (*config.Job, error) {
	t.Helper()
	y := "looker: {base_url: https://x.looker.com, client_id: a, client_secret: b}\njobs:\n  - name: j\n    schedule: '@daily'\n    source: {look_id: '1'}\n" + keys
	cfg, err := config.Parse("x.yaml", []byte(y), config.Options{LookupEnv: func(string) (string, bool) { return "", false }})
	if err != nil {
		return nil, err
	}
	return cfg.Jobs[0], nil
}

func TestOutputKeys(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, keys string
		want       config.Output
		wantErr    []string
	}{
		{name: "defaults", keys: "    format: csv\n    destination: out/x.csv\n", want: config.Output{Manifest: true}},
		{name: "manifest off", keys: "    format: csv\n    manifest: false\n    destination: out/x.csv\n", want: config.Output{}},
		{name: "split by rows", keys: "    format: parquet\n    max_rows_per_file: 1000000\n    destination: out/x.parquet\n", want: config.Output{Manifest: true, MaxRowsPerFile: 1_000_000}},
		{name: "split by bytes", keys: "    format: csv\n    compression: gzip\n    max_bytes_per_file: 3.5GB\n    destination: out/x.csv.gz\n", want: config.Output{Manifest: true, MaxBytesPerFile: 3_500_000_000}},
		{name: "bytes as integer", keys: "    format: jsonl\n    max_bytes_per_file: 1048576\n    destination: out/x.jsonl\n", want: config.Output{Manifest: true, MaxBytesPerFile: 1 << 20}},
		{name: "bytes IEC", keys: "    format: jsonl\n    max_bytes_per_file: 4 GiB\n    destination: out/x.jsonl\n", want: config.Output{Manifest: true, MaxBytesPerFile: 4 << 30}},
		{name: "bad rows", keys: "    format: csv\n    max_rows_per_file: 0\n    destination: out/x.csv\n", wantErr: []string{`x.yaml:7: job "j": max_rows_per_file 0 must be a positive row count`}},
		{name: "bad bytes", keys: "    format: csv\n    max_bytes_per_file: lots\n    destination: out/x.csv\n", wantErr: []string{`x.yaml:7: job "j": max_bytes_per_file "lots" is not a size`}},
		{name: "raw cannot split", keys: "    format: raw\n    result_format: xlsx\n    max_rows_per_file: 10\n    destination: out/x.xlsx\n", wantErr: []string{"format raw cannot be split"}},
		{name: "absolute override", keys: "    format: csv\n    destination: '{{ if true }}/etc{{ end }}/x.csv'\n", wantErr: []string{`x.yaml:7: job "j": destination "/etc/x.csv" is absolute, but its template starts with an action`}},
		{name: "scheme override", keys: "    format: csv\n    destination: '{{ if true }}gs://other{{ end }}/x.csv'\n", wantErr: []string{`destination "gs://other/x.csv" is absolute`}},
		{name: "template replaces its root", keys: "    format: csv\n    destination: '/data/{{ .Job }}{{ if true }}/../../etc{{ end }}/x.csv'\n", wantErr: []string{"must not contain .."}},
		{name: "gcs dot-dot", keys: "    format: csv\n    destination: 'gs://b/exports/{{ if true }}../other{{ end }}/x.csv'\n", wantErr: []string{"must not contain .."}},
		{name: "gcs bucket override", keys: "    format: csv\n    destination: 'gs://b/{{ if true }}x{{ end }}.csv'\n", want: config.Output{Manifest: true}},
		{name: "root with absolute outside", keys: "    format: csv\n    root: /var/exports\n    destination: '/tmp/{{ .Job }}/x.csv'\n", wantErr: []string{"outside the job's root /var/exports"}},
		{name: "root for gcs", keys: "    format: csv\n    root: /var/exports\n    destination: 'gs://b/{{ .Job }}/x.csv'\n", wantErr: []string{"root applies to local destinations"}},
		{name: "root template", keys: "    format: csv\n    root: '/var/{{ .Job }}'\n    destination: 'x.csv'\n", wantErr: []string{"must be a plain directory"}},
		{name: "root relative ok", keys: "    format: csv\n    root: /var/exports\n    destination: '{{ .Job }}/dt={{ date \"2006-01-02\" }}/x.csv'\n", want: config.Output{Manifest: true, Root: "/var/exports"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			j, err := outputJob(t, c.keys)
			if c.wantErr != nil {
				require.Error(t, err)
				for _, w := range c.wantErr {
					require.ErrorContains(t, err, w)
				}
				return
			}
			require.NoError(t, err)
			require.Equal(t, c.want, j.Output)
		})
	}
}

func TestRenderDestinationUnderRoot(t *testing.T) {
	t.Parallel()
	j, err := outputJob(t, "    format: csv\n    root: /var/exports\n    destination: '{{ .Job }}/{{ hive \"dt\" \"2006-01-02\" }}/x.csv'\n")
	require.NoError(t, err)
	d := config.TemplateData{Job: "j", RunID: "r", ScheduledTime: time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC), Attempt: 1}
	got, err := j.RenderDestination(d)
	require.NoError(t, err)
	require.Equal(t, "/var/exports/j/dt=2026-11-27/x.csv", got)
	root, ok, err := j.LocalRoot()
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "/var/exports", root)
}

func TestLocalRoot(t *testing.T) {
	t.Parallel()
	cases := []struct {
		dest, want string
		ok         bool
	}{
		{"/data/exports/{{ .Job }}/x.csv", "/data/exports", true},
		{"file:///data/{{ .Job }}.csv", "/data", true},
		{"/data/fixed.csv", "/data", true},
		{"gs://b/{{ .Job }}/x.csv", "", false},
	}
	for _, c := range cases {
		t.Run(c.dest, func(t *testing.T) {
			t.Parallel()
			j, err := outputJob(t, "    format: csv\n    destination: '"+c.dest+"'\n")
			require.NoError(t, err)
			got, ok, err := j.LocalRoot()
			require.NoError(t, err)
			require.Equal(t, c.ok, ok)
			require.Equal(t, c.want, got)
		})
	}
	j, err := outputJob(t, "    format: csv\n    destination: '{{ .Job }}/x.csv'\n")
	require.NoError(t, err)
	got, ok, err := j.LocalRoot()
	require.NoError(t, err)
	require.True(t, ok)
	wd, err := filepath.Abs(".")
	require.NoError(t, err)
	require.Equal(t, wd, got, "a template starting with an action is confined to the working directory")
}
