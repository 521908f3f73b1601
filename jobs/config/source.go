package config

import (
	"maps"
	"slices"

	"github.com/lookerexport/exporter/lookerapi"
)

// validateSourceFilters reads source.filters and source.filter_expression:
//
//   - with look_id, query_id or query_slug they are the job's filters,
//     merged over the saved query's (lookerapi.RunOptions.Filters and
//     FilterExpression; see lookerapi.Derive);
//   - with dashboard_id, filters are dashboard filter values by filter
//     name, over the dashboard's defaults (Job.DashboardFilters);
//     filter_expression does not apply;
//   - an inline query carries its own (source.query.filters), and a SQL
//     Runner query takes none.
//
// Values are templates over TemplateData (see RenderRun); each is checked
// to render with sample data.
func (l *loader) validateSourceFilters(p, name string, s *rawSource, j *Job) {
	bad := func(key, format string, args ...any) {
		l.addAt(p+".source."+key, name, format, args...)
	}
	src := j.Source
	switch {
	case len(s.Filters) == 0 && s.FilterExpression == "":
		return
	case src.Query != nil:
		for _, key := range setKeys(s.Filters, s.FilterExpression) {
			bad(key, "source.%s goes inside source.query for an inline query (source.query.%s)", key, key)
		}
		return
	case src.SQL != nil:
		for _, key := range setKeys(s.Filters, s.FilterExpression) {
			bad(key, "source.%s does not apply to SQL Runner queries; filter in the SQL text (it is a template too)", key)
		}
		return
	case src.DashboardID != "":
		if s.FilterExpression != "" {
			bad("filter_expression", "source.filter_expression does not apply to a dashboard; set dashboard filter values by filter name under source.filters")
		}
		j.DashboardFilters = maps.Clone(s.Filters)
	case src.LookID != "" || src.QueryID != "" || src.QuerySlug != "":
		j.Run.Filters, j.Run.FilterExpression = maps.Clone(s.Filters), s.FilterExpression
	default:
		return // no source: reported by validateSource
	}
	d := SampleData(j)
	for _, k := range slices.Sorted(maps.Keys(s.Filters)) {
		if k == "" {
			bad("filters", "source.filters has an empty name; write a field (orders.created_date) or, for a dashboard, a filter name")
			continue
		}
		if _, err := renderText("filters."+k, s.Filters[k], d); err != nil {
			bad("filters."+k, "%v", err)
		}
	}
	if _, err := renderText("filter_expression", s.FilterExpression, d); err != nil {
		bad("filter_expression", "%v", err)
	}
}

func setKeys(filters map[string]string, expr string) []string {
	var keys []string
	if len(filters) > 0 {
		keys = append(keys, "filters")
	}
	if expr != "" {
		keys = append(keys, "filter_expression")
	}
	return keys
}

// renderFilters renders filter values that are templates (see
// RenderSource); nil stays nil.
func renderFilters(filters map[string]string, d TemplateData) (map[string]string, error) {
	if filters == nil {
		return nil, nil
	}
	out := make(map[string]string, len(filters))
	for _, k := range slices.Sorted(maps.Keys(filters)) {
		v, err := renderText("filters."+k, filters[k], d)
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}

// RunSpec is what one run of a job asks Looker for, its templates
// rendered: the source (an inline query's filters, SQL text), the run
// options (a saved source's filters and filter_expression) and a
// dashboard's filter values.
type RunSpec struct {
	Source           lookerapi.Source
	Run              lookerapi.RunOptions
	DashboardFilters map[string]string
}

// RenderRun renders every template of the job's source for one run, with
// the same data and functions as the destination: inline query filters,
// SQL text (RenderSource), source.filters and source.filter_expression of
// Looks, saved queries, slugs and dashboards. j is not modified.
func (j *Job) RenderRun(d TemplateData) (RunSpec, error) {
	src, err := RenderSource(j.Source, d)
	if err != nil {
		return RunSpec{}, err
	}
	spec := RunSpec{Source: src, Run: j.Run}
	if spec.Run.Filters, err = renderFilters(j.Run.Filters, d); err != nil {
		return RunSpec{}, err
	}
	if spec.Run.FilterExpression, err = renderText("filter_expression", j.Run.FilterExpression, d); err != nil {
		return RunSpec{}, err
	}
	if spec.DashboardFilters, err = renderFilters(j.DashboardFilters, d); err != nil {
		return RunSpec{}, err
	}
	return spec, nil
}
