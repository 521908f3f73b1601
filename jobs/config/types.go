package config

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/goccy/go-yaml"

	"github.com/lookerexport/exporter/formats"
)

// validateDefaultTypes parses the defaults' types: once, reporting each
// bad type on its line in the main file; jobs inherit the parsed types.
func (l *loader) validateDefaultTypes(raw map[string]string) {
	l.rawDefaultTypes = raw
	l.defaultTypes = l.parseTypes("$.defaults", "", raw, nil)
}

// validateTypes fills j.Types: the defaults' types: with the job's own
// over them, key by key. A job's key equal to the defaults' (inherited
// when the job has no types: of its own) was checked there. Types apply
// to formats jsonl and parquet; other formats ignore the defaults' and
// refuse a job's own.
func (l *loader) validateTypes(p, name string, r *rawJob, j *Job) {
	var own []string // keys the job sets itself
	for _, key := range slices.Sorted(maps.Keys(r.Types)) {
		if v, ok := l.rawDefaultTypes[key]; !ok || v != r.Types[key] {
			own = append(own, key)
		}
	}
	parsed := l.parseTypes(p, name, r.Types, l.rawDefaultTypes)
	if j.Plan.Format != formats.Parquet && j.Plan.Format != formats.JSONL {
		if len(own) > 0 {
			l.addAt(p+".types", name, "types: sets the column types of format parquet or jsonl; format %s writes values as Looker sent them", j.Plan.Format)
		}
		return
	}
	types := maps.Clone(l.defaultTypes)
	if types == nil {
		types = map[string]formats.ColumnType{}
	}
	maps.Copy(types, parsed)
	if len(types) > 0 {
		j.Types = types
	}
	if q := j.Source.Query; q != nil && q.DynamicFields == "" { // else table calculations add fields
		for _, key := range own {
			if _, ok := parsed[key]; ok && !slices.Contains(q.Fields, key) {
				l.add(l.typeKeyLine(p, key), name, "types: %q is not one of source.query.fields (%s)", key, strings.Join(q.Fields, ", "))
			}
		}
	}
}

// parseTypes parses a types: mapping at YAML path p+".types". Keys whose
// value equals skip's were reported already and are parsed silently.
func (l *loader) parseTypes(p, name string, raw, skip map[string]string) map[string]formats.ColumnType {
	if len(raw) == 0 {
		return nil
	}
	out := make(map[string]formats.ColumnType, len(raw))
	for _, key := range slices.Sorted(maps.Keys(raw)) {
		v := raw[key]
		t, err := formats.ParseColumnType(v)
		if key == "" {
			err = errors.New("a key is empty; write the Looker field name, e.g. orders.id: INT64")
		}
		if err == nil {
			out[key] = t
			continue
		}
		if sv, reported := skip[key]; reported && sv == v {
			continue
		}
		if key != "" {
			err = fmt.Errorf("%s: %w", key, err)
		}
		label := "types"
		if name == "" {
			label = "defaults.types"
		}
		l.add(l.typeKeyLine(p, key), name, "%s: %v", label, err)
	}
	return out
}

// typeKeyLine is the line of key in the mapping at p+".types" (field
// names hold dots, which YAML paths cannot address), else of the mapping.
func (l *loader) typeKeyLine(p, key string) int {
	path := p + ".types"
	if yp, err := yaml.PathString(path); err == nil && l.ast != nil {
		if n, err := yp.FilterFile(l.ast); err == nil && n != nil {
			if values, ok := mappingValues(n); ok {
				for _, mv := range values {
					if mv.Key != nil && keyString(mv.Key) == key {
						return nodeLine(mv.Key)
					}
				}
			}
		}
	}
	return l.line(path)
}

// validateBigQuerySchema checks the job key bigquery_schema: the schema
// file describes one result's columns as jsonl or parquet write them,
// under names BigQuery takes.
func (l *loader) validateBigQuerySchema(p, name string, r *rawJob, j *Job) {
	if r.BigQuerySchema == nil || !*r.BigQuerySchema {
		return
	}
	j.Output.BigQuerySchema = true
	bad := func(format string, args ...any) {
		l.addAt(p+".bigquery_schema", name, format, args...)
	}
	switch {
	case j.Plan.Format != formats.Parquet && j.Plan.Format != formats.JSONL:
		bad("bigquery_schema describes format parquet or jsonl files; format %s has no BigQuery schema here (csv times carry no zone)", j.Plan.Format)
	case j.Source.DashboardID != "":
		bad("bigquery_schema describes one result; a dashboard's tiles have one schema each")
	case j.ColumnNames != string(formats.NameUnderscore):
		bad("bigquery_schema needs column names BigQuery takes: remove column_names %s (the default, underscore, always gives valid names)", j.ColumnNames)
	}
}
