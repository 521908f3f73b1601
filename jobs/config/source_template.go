package config

import (
	"bytes"
	"fmt"
	"strings"
	"text/template"
	"time"

	"github.com/lookerexport/exporter/lookerapi"
)

// RenderSource returns src with its templates rendered for one run: the
// values of an inline query's filters and filter_expression, and the text
// of a SQL Runner query, are templates over TemplateData (with the date and
// hive functions of destinations), so that incremental exports can filter
// on their data interval:
//
//	filters: {orders.created_date: '{{ .PrevScheduledTime.Format "2006-01-02" }} to {{ .ScheduledTime.Format "2006-01-02" }}'}
//
// Text without "{{" is returned as is. src is not modified.
func RenderSource(src lookerapi.Source, d TemplateData) (lookerapi.Source, error) {
	if src.Query != nil {
		q := *src.Query
		if len(q.Filters) > 0 {
			f, err := renderFilters(q.Filters, d)
			if err != nil {
				return src, err
			}
			q.Filters = f
		}
		fe, err := renderText("filter_expression", q.FilterExpression, d)
		if err != nil {
			return src, err
		}
		q.FilterExpression = fe
		src.Query = &q
	}
	if src.SQL != nil && src.SQL.SQL != "" {
		q := *src.SQL
		out, err := renderText("sql", q.SQL, d)
		if err != nil {
			return src, err
		}
		q.SQL = out
		src.SQL = &q
	}
	return src, nil
}

func renderText(name, text string, d TemplateData) (string, error) {
	if !strings.Contains(text, "{{") {
		return text, nil
	}
	t, err := template.New(name).Option("missingkey=error").Funcs(templateFuncs(func() time.Time { return d.ScheduledTime })).Parse(text)
	if err != nil {
		return "", fmt.Errorf("source %s template: %v", name, strings.TrimPrefix(err.Error(), "template: "))
	}
	var b bytes.Buffer
	if err := t.Execute(&b, d); err != nil {
		return "", fmt.Errorf("source %s template: %v", name, strings.TrimPrefix(err.Error(), "template: "))
	}
	return b.String(), nil
}

// validateSourceTemplates renders the source's templates with sample data,
// so that a broken template is a config error, not a failed run.
func (l *loader) validateSourceTemplates(p, name string, j *Job) {
	if _, err := RenderSource(j.Source, SampleData(j)); err != nil {
		key := ".source.query"
		if j.Source.SQL != nil {
			key = ".source.sql"
		}
		l.addAt(p+key, name, "%v", err)
	}
}
