package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/goccy/go-yaml/ast"

	"github.com/lookerexport/exporter/formats"
)

// Output holds how a job's files are laid out and announced.
type Output struct {
	// Root confines local destinations (job key root): relative
	// destinations are resolved against it, and a destination that
	// resolves outside it is an error. Empty: the template's static
	// directory (everything before its first "{{", up to the last "/")
	// confines it instead. See Job.RenderDestination.
	Root string
	// Manifest writes _manifest.json and _SUCCESS next to the data
	// (job key manifest, default true); see package sinks/publish.
	Manifest bool
	// MaxRowsPerFile and MaxBytesPerFile split a run into numbered parts
	// (job keys max_rows_per_file, max_bytes_per_file); 0 is no limit.
	MaxRowsPerFile  int64
	MaxBytesPerFile int64
	// BigQuerySchema writes formats.BigQuerySchemaName next to the data
	// (job key bigquery_schema, default false): the columns as a BigQuery
	// table schema for bq load --schema. Format parquet or jsonl only.
	BigQuerySchema bool
}

// Split reports whether runs are split into numbered parts.
func (o Output) Split() bool { return o.MaxRowsPerFile > 0 || o.MaxBytesPerFile > 0 }

// ByteSize is a size in bytes, written as an integer or with a unit:
// "3.5GB", "4 GiB", "512MiB" (SI and IEC units, as go-humanize parses
// them).
type ByteSize string

// UnmarshalYAML accepts an integer or a string; validation parses it.
func (b *ByteSize) UnmarshalYAML(n ast.Node) error {
	v, _ := leafScalar(n) // the checker rejected anything else
	*b = ByteSize(v)
	return nil
}

func (l *loader) validateOutput(p, name string, r *rawJob, j *Job) {
	bad := func(key, format string, args ...any) {
		l.addAt(p+"."+key, name, format, args...)
	}
	j.Output.Manifest = r.Manifest == nil || *r.Manifest
	if r.MaxRowsPerFile != nil {
		if *r.MaxRowsPerFile <= 0 {
			bad("max_rows_per_file", "max_rows_per_file %d must be a positive row count; remove it for one file per run", *r.MaxRowsPerFile)
		}
		j.Output.MaxRowsPerFile = max(*r.MaxRowsPerFile, 0)
	}
	if r.MaxBytesPerFile != "" {
		n, err := humanize.ParseBytes(string(r.MaxBytesPerFile))
		switch {
		case err != nil:
			bad("max_bytes_per_file", "max_bytes_per_file %q is not a size: write bytes or a unit, e.g. 3.5GB or 512MiB", r.MaxBytesPerFile)
		case n == 0 || n > 1<<62:
			bad("max_bytes_per_file", "max_bytes_per_file %q must be positive; remove it for one file per run", r.MaxBytesPerFile)
		default:
			j.Output.MaxBytesPerFile = int64(n)
		}
	}
	if j.Output.Split() {
		j.Plan.Passthrough = false // parts are re-encoded: each repeats the header
	}
	if j.Output.Split() && j.Plan.Format == formats.Raw {
		bad("format", "format raw cannot be split (max_rows_per_file, max_bytes_per_file): its bytes are not parsed into rows; use csv, jsonl or parquet")
	}
	if r.Root != "" {
		switch {
		case strings.Contains(r.Root, "://") && !strings.HasPrefix(r.Root, "file://"):
			bad("root", "root %q must be a local directory; it confines local destinations only", r.Root)
		case strings.Contains(r.Root, "{{"):
			bad("root", "root %q must be a plain directory, not a template", r.Root)
		default:
			j.Output.Root = strings.TrimPrefix(r.Root, "file://")
		}
		if j.Destination != nil && strings.HasPrefix(j.Destination.String(), "gs://") {
			bad("root", "root applies to local destinations; this job writes to GCS: remove root")
		}
	}
	if j.Destination == nil {
		return
	}
	// Two sample times: a destination must stay confined whatever the time.
	d := SampleData(j)
	for _, at := range []time.Time{d.ScheduledTime, d.ScheduledTime.AddDate(1, 10, 27).Add(20*time.Hour + 50*time.Minute)} {
		d.ScheduledTime = at
		if _, err := j.RenderDestination(d); err != nil {
			bad("destination", "%v", err)
			return
		}
	}
}

// staticDir is the part of a destination template before its first
// action, up to and including the last "/": the directory no rendering
// can change.
func staticDir(tmpl string) string {
	static, _, _ := strings.Cut(tmpl, "{{")
	i := strings.LastIndex(static, "/")
	if i < 0 {
		return ""
	}
	return static[:i+1]
}

// RenderDestination renders the job's destination template and confines
// the result: it must start with the template's static directory (so a
// template cannot replace its own root, e.g. with an absolute path), and,
// when Output.Root is set, a local destination is resolved against Root
// (if relative) and must lie inside it. Load checks this with sample
// times; the runner checks every real one.
func (j *Job) RenderDestination(d TemplateData) (string, error) {
	dest, err := j.Destination.Render(d)
	if err != nil {
		return "", err
	}
	switch static := staticDir(j.Destination.String()); {
	case static == "" && (strings.HasPrefix(dest, "/") || strings.Contains(dest, "://")):
		return "", fmt.Errorf("destination %q is absolute, but its template starts with an action, which confines it to the working directory (or root); write the fixed part of the path before the first {{", dest)
	case !strings.HasPrefix(dest, static):
		return "", fmt.Errorf("destination %q is outside %q, the fixed part of its template; a template must not change its own directory", dest, static)
	}
	if j.Output.Root == "" || strings.HasPrefix(dest, "gs://") {
		return dest, nil
	}
	p := strings.TrimPrefix(dest, "file://")
	if !filepath.IsAbs(p) {
		p = filepath.Join(j.Output.Root, p)
	}
	root, err := filepath.Abs(j.Output.Root)
	if err != nil {
		return "", fmt.Errorf("root %q: %w", j.Output.Root, err)
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("destination %q: %w", dest, err)
	}
	if !strings.HasPrefix(abs, strings.TrimSuffix(root, "/")+"/") {
		return "", fmt.Errorf("destination %q is outside the job's root %s; write below the root or change root", dest, root)
	}
	return abs, nil
}

// LocalRoot is the directory a job's local files go under: Output.Root,
// else the static directory of its template ("." when the template starts
// with an action), as an absolute path. ok is false for GCS destinations.
// At start-up the exporter removes crashed writers' temp files under it.
func (j *Job) LocalRoot() (dir string, ok bool, err error) {
	if j.Destination == nil || strings.HasPrefix(j.Destination.String(), "gs://") {
		return "", false, nil
	}
	dir = j.Output.Root
	if dir == "" {
		dir = strings.TrimPrefix(staticDir(j.Destination.String()), "file://")
	}
	if dir == "" {
		dir = "."
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", false, errors.Join(fmt.Errorf("job %s: resolve %q", j.Name, dir), err)
	}
	return abs, true, nil
}
