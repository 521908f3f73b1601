package config

import (
	"github.com/goccy/go-yaml/ast"

	"github.com/lookerexport/exporter/lookerapi"
)

// The raw* types mirror the YAML file one to one. Values stay as written
// (strings for durations, schedules, zones) so validation can report each
// problem with its line; Load turns them into Config.

type rawFile struct {
	Include   []string     `yaml:"include"` // globs of files holding more jobs: include.go
	Looker    rawLooker    `yaml:"looker"`
	State     rawState     `yaml:"state"`
	Server    rawServer    `yaml:"server"`
	GCS       rawGCS       `yaml:"gcs"`
	Local     rawLocal     `yaml:"local"`
	Defaults  rawJob       `yaml:"defaults"`
	Jobs      []rawJob     `yaml:"jobs"`
	Scheduler rawScheduler `yaml:"scheduler"`
	Notify    []rawNotify  `yaml:"notify"`
}

type rawLooker struct {
	BaseURL      string `yaml:"base_url"`
	ClientID     string `yaml:"client_id"`
	ClientSecret Secret `yaml:"client_secret"`
	// ClientSecretFile holds the secret (a mounted secret); its trailing
	// newline is trimmed.
	ClientSecretFile string `yaml:"client_secret_file"`
	// INIFile and INISection name a looker.ini read like the SDKs do.
	INIFile    string `yaml:"ini_file"`
	INISection string `yaml:"ini_section"`
	Timeout    string `yaml:"timeout" want:"a duration such as 90s, 15m or 2h"`
	VerifySSL  *bool  `yaml:"verify_ssl"`
	CAFile     string `yaml:"ca_file"`
	// MaxConcurrentQueries bounds the queries in flight per Looker user.
	MaxConcurrentQueries *int   `yaml:"max_concurrent_queries"`
	ReadIdleTimeout      string `yaml:"read_idle_timeout" want:"a duration such as 90s, 15m or 2h"`
}

type rawState struct {
	Driver    string `yaml:"driver"`
	DSN       string `yaml:"dsn"`
	Retention string `yaml:"retention" want:"a duration such as 90s, 15m or 2h"`
}

type rawServer struct {
	Listen         string `yaml:"listen"`
	Token          Secret `yaml:"token"`
	TokenFile      string `yaml:"token_file"`
	MetricsPublic  bool   `yaml:"metrics_public"`
	LogLines       *int   `yaml:"log_lines"`
	MaxConnections *int   `yaml:"max_connections"`
	ExternalURL    string `yaml:"external_url"`
}

type rawLocal struct {
	FileMode FileMode `yaml:"file_mode" want:"an octal mode in quotes, such as \"0640\""`
}

type rawGCS struct {
	CredentialsFile string `yaml:"credentials_file"`
}

type rawJob struct {
	Name               string            `yaml:"name"`
	Description        string            `yaml:"description"`
	Schedule           string            `yaml:"schedule" want:"a schedule such as '0 6 * * *' or '@daily'"`
	Timezone           string            `yaml:"timezone"`
	Source             rawSource         `yaml:"source"`
	Limit              RowLimit          `yaml:"limit"`
	QueryTimezone      string            `yaml:"query_timezone"`
	SQLTimezone        string            `yaml:"sql_timezone"`
	ResultFormat       string            `yaml:"result_format"`
	Format             string            `yaml:"format"`
	Compression        string            `yaml:"compression"`
	Render             *rawRender        `yaml:"render"`
	Destination        string            `yaml:"destination"`
	IfExists           string            `yaml:"if_exists"`
	Root               string            `yaml:"root"`
	Manifest           *bool             `yaml:"manifest"`
	MaxRowsPerFile     *int64            `yaml:"max_rows_per_file"`
	MaxBytesPerFile    ByteSize          `yaml:"max_bytes_per_file"`
	ColumnNames        string            `yaml:"column_names"`
	Types              map[string]string `yaml:"types"`
	BigQuerySchema     *bool             `yaml:"bigquery_schema"`
	CSVHeader          string            `yaml:"csv_header"`
	ParquetPageVersion *int              `yaml:"parquet_page_version"`
	Timeout            string            `yaml:"timeout" want:"a duration such as 90s, 15m or 2h"`
	ApplyFormatting    *bool             `yaml:"apply_formatting"`
	ApplyVis           *bool             `yaml:"apply_vis"`
	Cache              *bool             `yaml:"cache"`
	ForceProduction    *bool             `yaml:"force_production"`
	ServerTableCalcs   *bool             `yaml:"server_table_calcs"`
	RebuildPDTs        *bool             `yaml:"rebuild_pdts"`
	Mode               string            `yaml:"mode"`
	RunAs              ID                `yaml:"run_as"`
	OnTruncation       string            `yaml:"on_truncation"`
	OnSchemaChange     string            `yaml:"on_schema_change"`
	When               string            `yaml:"when"`
	MinRows            *int64            `yaml:"min_rows"`
	MaxStaleness       string            `yaml:"max_staleness" want:"a duration such as 90s, 15m or 2h"`
	Overlap            string            `yaml:"overlap"`
	Catchup            string            `yaml:"catchup"`
	CatchupWindow      string            `yaml:"catchup_window" want:"a duration such as 90s, 15m or 2h"`
	Retries            rawRetries        `yaml:"retries"`

	Trigger *rawTrigger `yaml:"trigger"` // trigger.go
}

type rawRetries struct {
	MaxAttempts *int   `yaml:"max_attempts"`
	Backoff     string `yaml:"backoff" want:"a duration such as 90s, 15m or 2h"`
	MaxBackoff  string `yaml:"max_backoff" want:"a duration such as 90s, 15m or 2h"`
}

type rawScheduler struct {
	MaxConcurrentRuns *int   `yaml:"max_concurrent_runs"`
	Lease             string `yaml:"lease" want:"a duration such as 90s, 15m or 2h"`
	Replica           string `yaml:"replica"`

	DatagroupPollInterval string `yaml:"datagroup_poll_interval" want:"a duration such as 90s, 15m or 2h"` // trigger.go
}

type rawSource struct {
	LookID      ID                  `yaml:"look_id"`
	QueryID     ID                  `yaml:"query_id"`
	QuerySlug   string              `yaml:"query_slug"`
	Query       *lookerapi.Query    `yaml:"query"`
	SQL         *lookerapi.SQLQuery `yaml:"sql"`
	DashboardID ID                  `yaml:"dashboard_id"`
	// Filters and FilterExpression go with a saved source (look_id,
	// query_id, query_slug: merged over its query's filters) or a
	// dashboard (filters only: dashboard filter values by filter name).
	Filters          map[string]string `yaml:"filters"`
	FilterExpression string            `yaml:"filter_expression"`
}

// ID is a Looker id. Looker ids are strings in API 4.0; users often write
// them as YAML numbers (look_id: 42), which is accepted.
type ID string

// UnmarshalYAML accepts a string or an integer.
func (id *ID) UnmarshalYAML(n ast.Node) error {
	v, _ := leafScalar(n) // the checker rejected anything else
	*id = ID(v)
	return nil
}

// RowLimit is a job's limit as written: a row count, -1, or "saved".
type RowLimit string

// UnmarshalYAML accepts an integer or a string; validation parses it.
func (l *RowLimit) UnmarshalYAML(n ast.Node) error {
	v, _ := leafScalar(n) // the checker rejected anything else
	*l = RowLimit(v)
	return nil
}
