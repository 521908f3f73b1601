package config

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"
	"text/template"
	"time"
)

// TemplateData is what a destination template sees.
type TemplateData struct {
	Job           string    // job name
	RunID         string    // the attempt's run id
	ScheduledTime time.Time // the schedule's fire time, in the job's time zone
	Attempt       int       // 1 for the first attempt
	// PrevScheduledTime is the schedule's fire time before ScheduledTime:
	// the start of the data interval that ScheduledTime ends.
	PrevScheduledTime time.Time
	// LastSuccessTime is the scheduled time of the job's latest succeeded
	// run before this one, or PrevScheduledTime when there is none.
	LastSuccessTime time.Time
	// Tile names a dashboard tile's file: its title slugged and its id,
	// e.g. "orders-by-day-101" (see TileName). Only the destination of a
	// dashboard job with a data format uses it; "" otherwise.
	Tile string
	// TriggeredAt is the datagroup triggered_at a run fired by the job's
	// trigger is for (Job.TriggeredAt); zero in runs of its schedule.
	TriggeredAt time.Time
}

// Template is a parsed destination template. Besides the fields of
// TemplateData it offers:
//
//	{{ date "2006-01-02" }}   the scheduled time formatted in the job's zone
//	{{ hive "dt" "2006-01-02" }}  a Hive-style partition: dt=2026-11-27
//
// The scheduled time, never the wall clock, is used so that a retry or a
// backfill of the same run writes the same names.
type Template struct {
	text string
	t    *template.Template
	// mu serialises Render: the functions read the data of the render in
	// progress from rendering, so that a render neither clones the parsed
	// template nor binds new functions to it (which cost each run about
	// 10 KB of garbage in a burst).
	mu        sync.Mutex
	rendering TemplateData
}

// templateFuncs are the functions of every template, on the scheduled
// time that scheduled returns.
func templateFuncs(scheduled func() time.Time) template.FuncMap {
	return template.FuncMap{
		"date": func(layout string) string { return scheduled().Format(layout) },
		"hive": func(key, layout string) string { return key + "=" + scheduled().Format(layout) },
	}
}

// ParseTemplate parses a destination template.
func ParseTemplate(text string) (*Template, error) {
	tpl := &Template{text: text}
	scheduled := func() time.Time { return tpl.rendering.ScheduledTime } // under tpl.mu, in Render
	t, err := template.New("destination").Option("missingkey=error").Funcs(templateFuncs(scheduled)).Parse(text)
	if err != nil {
		return nil, fmt.Errorf("destination template: %v", strings.TrimPrefix(err.Error(), "template: "))
	}
	tpl.t = t
	return tpl, nil
}

// String returns the template text.
func (t *Template) String() string { return t.text }

// Render executes the template and checks the result is a usable
// destination: gs://bucket/object, file:///path, or a local path.
func (t *Template) Render(d TemplateData) (string, error) {
	var b strings.Builder
	t.mu.Lock()
	t.rendering = d
	err := t.t.Execute(&b, d)
	t.rendering = TemplateData{}
	t.mu.Unlock()
	if err != nil {
		return "", fmt.Errorf("destination template: %v", strings.TrimPrefix(err.Error(), "template: "))
	}
	dest := b.String()
	if err := CheckDestination(dest); err != nil {
		return "", fmt.Errorf("destination %q: %w", dest, err)
	}
	return dest, nil
}

// CheckDestination validates a rendered destination.
func CheckDestination(dest string) error {
	if strings.TrimSpace(dest) != dest || dest == "" {
		return errors.New("is empty or has leading or trailing spaces")
	}
	if strings.ContainsAny(dest, "\x00\n\r") {
		return errors.New("contains a control character")
	}
	switch {
	case strings.HasPrefix(dest, "gs://"):
		u, err := url.Parse(dest)
		if err != nil {
			return err
		}
		obj := strings.TrimPrefix(u.Path, "/")
		if u.Host == "" || obj == "" || strings.HasSuffix(obj, "/") {
			return errors.New("a GCS destination must be gs://bucket/path/to/file")
		}
		if slices.Contains(strings.Split(obj, "/"), "..") {
			return errors.New("must not contain .. (a template must not escape its folder)")
		}
	case strings.HasPrefix(dest, "file://"):
		p := strings.TrimPrefix(dest, "file://")
		if !strings.HasPrefix(p, "/") {
			return errors.New("a file:// destination must be absolute (file:///var/exports/x.csv); use a plain path for a relative one")
		}
		return checkLocal(p)
	case strings.Contains(dest, "://"):
		return errors.New("only gs:// and file:// URLs and plain paths are supported")
	default:
		return checkLocal(dest)
	}
	return nil
}

func checkLocal(p string) error {
	if strings.HasSuffix(p, "/") {
		return errors.New("names a directory; end it with a file name")
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return errors.New("must not contain .. (a template must not escape its directory)")
		}
	}
	if path.Base(p) == "." {
		return errors.New("has no file name")
	}
	return nil
}

// SampleData is the data used to check a job's templates at load time.
func SampleData(j *Job) TemplateData {
	loc := j.Location
	if loc == nil {
		loc = time.UTC
	}
	return TemplateData{
		Job:           j.Name,
		RunID:         "01234567-89ab-7def-8123-456789abcdef",
		ScheduledTime: time.Date(2026, 1, 2, 3, 4, 5, 0, loc),
		Attempt:       1,
		// Sample values: templates are only checked to render.
		PrevScheduledTime: time.Date(2026, 1, 1, 3, 4, 5, 0, loc),
		LastSuccessTime:   time.Date(2025, 12, 31, 3, 4, 5, 0, loc),
		Tile:              sampleTile(j),
		TriggeredAt:       time.Date(2026, 1, 2, 3, 4, 5, 0, loc),
	}
}
