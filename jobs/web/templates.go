package web

import (
	"embed"
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/lookerexport/exporter/lookerapi/zones"
)

//go:embed templates/*.html
var templateFS embed.FS

type templates = template.Template

func parseTemplates() (*template.Template, error) {
	t, err := template.New("").Funcs(template.FuncMap{
		"when":   when,
		"rel":    rel,
		"dur":    durSeconds,
		"comma":  func(n int64) string { return humanize.Comma(n) },
		"bytes":  func(n int64) string { return humanize.IBytes(uint64(max(n, 0))) },
		"short":  short,
		"inzone": inZone,
		"utc":    func(t time.Time) time.Time { return t.UTC() },
		"pretty": prettyFields,
		// errtail drops the "job X run Y: " prefix that versions before
		// cause-first errors stored; errors recorded now have none.
		"errtail": func(err, job, id string) string {
			return strings.TrimPrefix(err, "job "+job+" run "+id+": ")
		},
	}).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("web: parse templates: %w", err)
	}
	return t, nil
}

// inZone shows t in the named zone (UTC when unknown).
func inZone(t time.Time, zone string) time.Time {
	if loc, err := zones.Load(zone); err == nil {
		return t.In(loc)
	}
	return t.UTC()
}

func when(t any) string {
	switch v := t.(type) {
	case time.Time:
		if v.IsZero() {
			return "–"
		}
		return v.Format("2006-01-02 15:04:05 MST")
	case *time.Time:
		if v == nil || v.IsZero() {
			return "–"
		}
		return v.Format("2006-01-02 15:04:05 MST")
	}
	return "–"
}

// rel says how far t is from now: "3m ago", "in 2h 5m".
func rel(t time.Time, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := now.Sub(t)
	future := d < 0
	if future {
		d = -d
	}
	var s string
	switch {
	case d < time.Second:
		return "just now" // clocks of replicas differ by less than that
	case d < time.Minute:
		s = fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		s = fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		s = fmt.Sprintf("%dh %dm", int(d.Hours()), int(d.Minutes())%60)
	default:
		s = fmt.Sprintf("%dd", int(d.Hours()/24))
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

func durSeconds(s float64) string {
	d := time.Duration(s * float64(time.Second))
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

func short(s string, n int) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

// prettyFields shows a log line's JSON fields as key=value pairs, without
// the job, run_id and attempt that every line of a run carries.
func prettyFields(js string) string {
	js = strings.TrimSpace(js)
	if js == "" || js == "{}" {
		return ""
	}
	var b strings.Builder
	dec := newFieldDecoder(js)
	for k, v := range dec {
		switch k {
		case "job", "run_id", "attempt":
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k + "=" + v)
	}
	return b.String()
}
