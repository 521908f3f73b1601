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
	Format            string    `json:"format"`
	Compression       string    `json:"compression"`
	ContentType       string    `json:"content_type"`
	// Schema is empty for raw output, whose columns the exporter does not
	// read.
	Schema []Column   `json:"schema"`
	Files  []FileInfo `json:"files"`
}

// Source is the Looker source of a run: exactly one of the ids is set, as
// in the job's config, and Description says it in words.
type Source struct {
	LookID      string `json:"look_id,omitempty"`
	QueryID     string `json:"query_id,omitempty"`
	QuerySlug   string `json:"query_slug,omitempty"`
	SQLSlug     string `json:"sql_slug,omitempty"`
	Description string `json:"description"`
}

// Column describes one output column.
type Column struct {
	Name       string `json:"name"`        // the column's name in the files
	Field      string `json:"field"`       // Looker field name, e.g. orders.created_date
	Label      string `json:"label"`       // Looker label
	LookMLType string `json:"lookml_type"` // as Looker reports it, e.g. date_date
	Type       string `json:"type"`        // output type: STRING, INT64, DOUBLE, BOOLEAN, DATE, TIMESTAMP
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
