package config_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/formats"
	"github.com/lookerexport/exporter/jobs/config"
)

func parseConfig(t *testing.T, y string) (*config.Config, error) {
	t.Helper()
	return config.Parse("x.yaml", []byte("looker: {base_url: https://x.looker.com, client_id: a, client_secret: b}\n"+y), config.Options{LookupEnv: func(string) (string, bool) { return "", false }})
}

// TestTypesKey: types: maps Looker field names to column types, over the
// defaults' types: key by key; problems name the file, the line of the
// key and the job.
func TestTypesKey(t *testing.T) {
	t.Parallel()
	cfg, err := parseConfig(t, `defaults:
  types:
    orders.id: INT64
    orders.amount: NUMERIC(18,2)
jobs:
  - name: a
    schedule: '@daily'
    source: {look_id: '1'}
    format: parquet
    destination: out/a.parquet
    types:
      orders.amount: decimal(12, 4)
      orders.created: DATETIME
      ratio: FLOAT64
  - name: b
    schedule: '@daily'
    source: {look_id: '1'}
    format: jsonl
    destination: out/b.jsonl
  - name: c
    schedule: '@daily'
    source: {look_id: '1'}
    format: csv
    destination: out/c.csv
`)
	require.NoError(t, err)
	require.Equal(t, map[string]formats.ColumnType{
		"orders.id":      {Type: formats.Int64},
		"orders.amount":  {Type: formats.Decimal, Precision: 12, Scale: 4},
		"orders.created": {Type: formats.Timestamp, Local: true},
		"ratio":          {Type: formats.Double},
	}, cfg.Job("a").Types)
	require.Equal(t, map[string]formats.ColumnType{
		"orders.id":     {Type: formats.Int64},
		"orders.amount": {Type: formats.Decimal, Precision: 18, Scale: 2},
	}, cfg.Job("b").Types)
	require.Nil(t, cfg.Job("c").Types, "csv ignores the defaults' types")
}

func TestTypesKeyErrors(t *testing.T) {
	t.Parallel()
	_, err := parseConfig(t, `defaults:
  types:
    orders.id: INT65
jobs:
  - name: a
    schedule: '@daily'
    source: {look_id: '1'}
    format: parquet
    destination: out/a.parquet
    types:
      orders.amount: DECIMAL(40,2)
      orders.x: VARCHAR
  - name: b
    schedule: '@daily'
    source: {look_id: '1'}
    format: csv
    destination: out/b.csv
    types:
      orders.amount: NUMERIC(18,2)
  - name: c
    schedule: '@daily'
    source: {query: {model: m, view: v, fields: [orders.id, orders.amount]}}
    format: jsonl
    destination: out/c.jsonl
    types:
      orders.amount: NUMERIC(18,2)
      orders.amuont: NUMERIC(18,2)
  - name: d
    schedule: '@daily'
    source: {look_id: '1'}
    format: jsonl
    destination: out/d.jsonl
    types: [INT64]
`)
	require.Error(t, err)
	msg := err.Error()
	for _, want := range []string{
		`x.yaml:4: defaults.types: orders.id: type "INT65" is not one of STRING, INT64`,
		`x.yaml:12: job "a": types: orders.amount: type "DECIMAL(40,2)": precision 40 must be 1 to 38`,
		`x.yaml:13: job "a": types: orders.x: type "VARCHAR" is not one of`,
		`x.yaml:20: job "b": types: sets the column types of format parquet or jsonl; format csv writes values as Looker sent them`,
		`x.yaml:28: job "c": types: "orders.amuont" is not one of source.query.fields (orders.id, orders.amount)`,
		`x.yaml:34: job "d": types`,
	} {
		require.Contains(t, msg, want)
	}
	require.NotContains(t, msg, `job "a": types: orders.id`, "a bad default is reported once, at the defaults")
}

func TestBigQuerySchemaKey(t *testing.T) {
	t.Parallel()
	job := func(keys string) string {
		return "jobs:\n  - name: j\n    schedule: '@daily'\n    source: {look_id: '1'}\n    destination: out/x\n" + keys
	}
	cfg, err := parseConfig(t, job("    format: parquet\n    bigquery_schema: true\n"))
	require.NoError(t, err)
	require.True(t, cfg.Jobs[0].Output.BigQuerySchema)
	cfg, err = parseConfig(t, job("    format: jsonl\n"))
	require.NoError(t, err)
	require.False(t, cfg.Jobs[0].Output.BigQuerySchema)
	for keys, want := range map[string]string{
		"    format: csv\n    bigquery_schema: true\n":                              `x.yaml:8: job "j": bigquery_schema describes format parquet or jsonl files; format csv`,
		"    format: parquet\n    column_names: label\n    bigquery_schema: true\n": `x.yaml:9: job "j": bigquery_schema needs column names BigQuery takes: remove column_names label`,
		"    format: parquet\n    bigquery_schema: yes please\n":                    `x.yaml:8`,
	} {
		_, err := parseConfig(t, job(keys))
		require.ErrorContains(t, err, want, keys)
	}
}

func TestParquetPageVersionKey(t *testing.T) {
	t.Parallel()
	job := func(keys string) string {
		return "jobs:\n  - name: j\n    schedule: '@daily'\n    source: {look_id: '1'}\n    destination: out/x\n" + keys
	}
	for keys, want := range map[string]int{"    format: parquet\n": 0, "    format: parquet\n    parquet_page_version: 1\n": 1, "    format: parquet\n    parquet_page_version: 2\n": 2} {
		cfg, err := parseConfig(t, job(keys))
		require.NoError(t, err)
		require.Equal(t, want, cfg.Jobs[0].Plan.PageVersion, keys)
	}
	for keys, want := range map[string]string{
		"    format: parquet\n    parquet_page_version: 3\n": `x.yaml:8: job "j": parquet_page_version 3 is not 1`,
		"    format: jsonl\n    parquet_page_version: 2\n":   `x.yaml:8: job "j": parquet_page_version applies to format parquet only`,
	} {
		_, err := parseConfig(t, job(keys))
		require.ErrorContains(t, err, want, keys)
	}
}
