package config_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSeesLastSuccess: a job whose templates can read LastSuccessTime,
// from any key RenderRun or RenderDestination renders, by name or through
// the data itself, says so; one whose templates cannot does not, so its
// runs skip the store read.
func TestSeesLastSuccess(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, keys string
		sees       bool
	}{
		{"no template", "    source: {look_id: 42}\n    destination: /tmp/x.csv\n", false},
		{"other fields", "    source: {look_id: 42}\n    destination: '/tmp/{{ .Job }}/{{ .PrevScheduledTime.Format \"2006\" }}/{{ date \"01\" }}-{{ $.Attempt }}.csv'\n", false},
		{"destination", "    source: {look_id: 42}\n    destination: '/tmp/{{ .LastSuccessTime.Format \"2006\" }}.csv'\n", true},
		{"destination through $", "    source: {look_id: 42}\n    destination: '/tmp/{{ $.LastSuccessTime.Unix }}.csv'\n", true},
		{"destination through a variable", "    source: {look_id: 42}\n    destination: '/tmp/{{ $d := . }}{{ $d.Job }}.csv'\n", true},
		{"destination handing the data on", "    source: {look_id: 42}\n    destination: '/tmp/{{ with $ }}{{ .Job }}{{ end }}.csv'\n", true},
		{"destination in a with", "    source: {look_id: 42}\n    destination: '/tmp/{{ with .Job }}{{ . }}{{ end }}.csv'\n", true},
		{"saved source filter", "    source: {look_id: 42, filters: {a.b: '{{ .LastSuccessTime.Format \"2006\" }}'}}\n    destination: /tmp/x.csv\n", true},
		{"saved source filter_expression", "    source: {look_id: 42, filter_expression: '{{ if .LastSuccessTime.IsZero }}1{{ end }}'}\n    destination: /tmp/x.csv\n", true},
		{"inline query filter", "    source: {query: {model: m, view: v, fields: [v.a], filters: {v.a: '{{ .LastSuccessTime.Year }}'}}}\n    destination: /tmp/x.csv\n", true},
		{"inline query filter naming others", "    source: {query: {model: m, view: v, fields: [v.a], filters: {v.a: '{{ .ScheduledTime.Year }}'}}}\n    destination: /tmp/x.csv\n", false},
		{"sql", "    source: {sql: {connection: c, sql: 'SELECT 1 WHERE {{ .LastSuccessTime.Unix }} > 0'}}\n    destination: /tmp/x.csv\n", true},
		{"dashboard filter", "    source: {dashboard_id: '7', filters: {Date: '{{ .LastSuccessTime.Year }}'}}\n    format: pdf\n    destination: /tmp/x.pdf\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			keys := tc.keys
			if !strings.Contains(keys, "format:") {
				keys += "    format: csv\n"
			}
			cfg, err := parseJob(keys)
			require.NoError(t, err)
			require.Equal(t, tc.sees, cfg.Jobs[0].SeesLastSuccess())
		})
	}
}
