package jobs

import (
	"time"

	"github.com/lookerexport/exporter/formats"
	"github.com/lookerexport/exporter/jobs/config"
	"github.com/lookerexport/exporter/lookerapi"
	"github.com/lookerexport/exporter/sinks/publish"
	"github.com/lookerexport/exporter/state"
)

// outputInfo is what convert learns about the output while streaming.
type outputInfo struct {
	schema  formats.Schema // empty for raw output
	columns []string       // output column names, one per schema field
	// invalidUTF8 counts the byte sequences of a text result that were
	// not UTF-8 and were written as U+FFFD.
	invalidUTF8 int64
	// digest hashes the columns and rows as they stream; nil for raw
	// output, whose rows are not read.
	digest *formats.Digest
}

// contentHash is the digest of the result once every row was read; ""
// for raw output.
func (o *outputInfo) contentHash() string {
	if o.digest == nil {
		return ""
	}
	return o.digest.Sum()
}

// newManifest fills in what the runner knows for the run's manifest;
// publish.Set.Commit adds the files, their rows and bytes.
func newManifest(job *config.Job, run state.Run, scheduled time.Time, res *lookerapi.Result, contentType string, info *outputInfo) *publish.Manifest {
	m := &publish.Manifest{
		Job:           job.Name,
		RunID:         run.ID,
		Attempt:       run.Attempt,
		ScheduledTime: scheduled,
		Source: publish.Source{
			LookID:      job.Source.LookID,
			QueryID:     job.Source.QueryID,
			QuerySlug:   job.Source.QuerySlug,
			DashboardID: job.Source.DashboardID,
			Description: job.Source.String(),
		},
		LookerQueryID:  res.QueryID,
		QueryTimezone:  res.Timezone,
		TimezoneSource: res.TimezoneSource,
		Limit:          publish.Limit{Applied: appliedLimit(job, res), Saved: res.SavedLimit},
		InvalidUTF8:    info.invalidUTF8,
		ContentHash:    info.contentHash(),
		StartedAt:      run.StartedAt,
		Format:         string(job.Plan.Format),
		Compression:    string(job.Plan.Compression),
		ContentType:    contentType,
		Schema:         []publish.Column{},
	}
	if job.Source.SQL != nil {
		m.Source.SQLSlug = job.Source.SQL.Slug
		m.QueryTimezone = ""
		m.SQLTimezone = job.SQLLocation.String()
		m.TimezoneSource = "sql_timezone (Looker does not convert SQL Runner values)"
	}
	m.Schema = append(m.Schema, manifestColumns(info)...)
	return m
}

// manifestColumns describes the output's columns.
func manifestColumns(info *outputInfo) []publish.Column {
	cols := []publish.Column{}
	for i, f := range info.schema.Fields {
		name := f.Name
		if i < len(info.columns) {
			name = info.columns[i]
		}
		cols = append(cols, publish.Column{Name: name, Field: f.Name, Label: f.Label, LookMLType: f.LookMLType, Type: f.TypeName()})
	}
	return cols
}

// sidecars names the files a run of job may write next to its manifest.
func sidecars(job *config.Job) []string {
	if job.Output.BigQuerySchema {
		return []string{formats.BigQuerySchemaName}
	}
	return nil
}

// writeBigQuerySchema hands the run's BigQuery schema file to out, which
// writes it before the manifest, when the job asks for one (job key
// bigquery_schema).
func writeBigQuerySchema(job *config.Job, out *publish.Set, info *outputInfo) error {
	if !job.Output.BigQuerySchema {
		return nil
	}
	data, err := formats.BigQuerySchema(info.schema, info.columns)
	if err != nil {
		return err
	}
	return out.Sidecar(formats.BigQuerySchemaName, "application/json", data)
}
