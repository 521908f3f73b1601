package publish

import "time"

// ManifestVersion is the version of the manifest format written. Fields
// may be added within a version; none are removed or change meaning.
const ManifestVersion = 1

// Manifest is the content of _manifest.json. Times are RFC 3339; sizes
// are bytes as stored (after compression).
type Manifest struct {
	Version       int       `json:"version"`
	Job           string    `json:"job"`
	RunID         string    `json:"run_id"`
	Attempt       int       `json:"attempt"`
	ScheduledTime time.Time `json:"scheduled_time"`
	Source        Source    `json:"source"`
	// LookerQueryID is the id of the Looker query that ran, when Looker
	// said; LookerQueryTaskID the id of the asynchronous query task, when
	// the run used one (empty for synchronous runs).
	LookerQueryID     string    `json:"looker_query_id"`
	LookerQueryTaskID string    `json:"looker_query_task_id"`
	StartedAt         time.Time `json:"started_at"`
	FinishedAt        time.Time `json:"finished_at"`
	Rows              int64     `json:"rows"`  // sum over Files
	Bytes             int64     `json:"bytes"` // sum over Files
	// QueryTimezone is the zone Looker rendered the result's datetimes
	// in, and the one the exporter read them in ("" when the source is
	// SQL Runner: see SQLTimezone); TimezoneSource says where it came
	// from.
	QueryTimezone  string `json:"query_timezone,omitempty"`
	SQLTimezone    string `json:"sql_timezone,omitempty"`
	TimezoneSource string `json:"timezone_source,omitempty"`
	// Limit is the row limit the run applied and the saved query's own.
	Limit Limit `json:"limit"`
	// InvalidUTF8 counts the byte sequences of the result that were not
	// UTF-8 and were written as U+FFFD.
	InvalidUTF8 int64 `json:"invalid_utf8,omitempty"`
	// ContentHash is the digest of the result's columns and decoded rows
	// (formats.Digest): the same rows from Looker give the same hash in
	// every run, whatever the files look like. Jobs with when: changed
	// compare it. Empty for raw output.
	ContentHash string `json:"content_hash,omitempty"`
	Format      string `json:"format"`
	Compression string `json:"compression"`
	ContentType string `json:"content_type"`
	// Schema is empty for raw output, whose columns the exporter does not
	// read.
	Schema []Column   `json:"schema"`
	Files  []FileInfo `json:"files"`
	// Dashboard names the tile each file holds, for a dashboard run
	// (whose Schema is empty: each tile has its own).
	Dashboard *Dashboard `json:"dashboard,omitempty"`
}

// Limit is a run's row limit: Applied is what the run sent (-1: all
// rows; 0: none sent, so the saved limit applied), Saved the limit saved
// with the Look or query ("" when it has none, or the source is inline).
type Limit struct {
	Applied int64  `json:"applied"`
	Saved   string `json:"saved,omitempty"`
}

// Source is the Looker source of a run: exactly one of the ids is set, as
// in the job's config, and Description says it in words.
type Source struct {
	LookID      string `json:"look_id,omitempty"`
	QueryID     string `json:"query_id,omitempty"`
	QuerySlug   string `json:"query_slug,omitempty"`
	SQLSlug     string `json:"sql_slug,omitempty"`
	DashboardID string `json:"dashboard_id,omitempty"`
	Description string `json:"description"`
	// Filters and FilterExpression are the job's filters as sent for this
	// run (templates rendered): merged over a saved query's own, the
	// query that ran being LookerQueryID; for a dashboard, its filter
	// values by filter name.
	Filters          map[string]string `json:"filters,omitempty"`
	FilterExpression string            `json:"filter_expression,omitempty"`
}

// Column describes one output column.
type Column struct {
	Name       string `json:"name"`        // the column's name in the files
	Field      string `json:"field"`       // Looker field name, e.g. orders.created_date
	Label      string `json:"label"`       // Looker label
	LookMLType string `json:"lookml_type"` // as Looker reports it, e.g. date_date
	Type       string `json:"type"`        // output type: STRING, INT64, DOUBLE, BOOLEAN, DATE, TIMESTAMP, DECIMAL(p,s)
}

// FileInfo describes one committed data file.
type FileInfo struct {
	URI    string `json:"uri"`
	Name   string `json:"name"` // relative to the manifest's directory
	Size   int64  `json:"size"`
	Rows   int64  `json:"rows"`
	CRC32C string `json:"crc32c"` // hex, big-endian, as gsutil hash -h prints it
	SHA256 string `json:"sha256"` // hex
}
