package config

import (
	"strings"
	"unicode"
)

// TileFiles reports whether the job exports a dashboard's data tile by
// tile: a dashboard source with a data format (csv, jsonl, parquet, raw),
// as opposed to a render of it (pdf, png, jpg). Its destination names
// each tile's file with {{ .Tile }}.
func (j *Job) TileFiles() bool { return j.Source.DashboardID != "" && !j.Plan.Render }

// TileName is the {{ .Tile }} of a dashboard tile: its title slugged
// (lower case letters and digits, other runs of characters as one "-",
// at most 60 characters) then its id slugged alike, e.g. "Orders by day",
// 101 -> "orders-by-day-101". An untitled tile is "tile-<id>". The id
// keeps names unique within a dashboard and stable when a title changes
// only in punctuation. A LookML dashboard's element ids repeat the
// dashboard ("thelook::orders_overview::101"): only the part after the
// last "::" is used, as the directory already names the dashboard.
func TileName(title, id string) string {
	s := slug(title, 60)
	if s == "" {
		s = "tile"
	}
	if i := strings.LastIndex(id, "::"); i >= 0 {
		id = id[i+2:]
	}
	return s + "-" + slug(id, 60)
}

func slug(s string, max int) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			if b.Len() >= max {
				break
			}
			continue
		}
		dash = true
	}
	return b.String()
}

func sampleTile(j *Job) string {
	if j.TileFiles() {
		return TileName("Orders by day", "101")
	}
	return ""
}

// validateTileDestination checks the use of {{ .Tile }}: a dashboard job
// with a data format writes one file per data tile, so its destination
// must name each with {{ .Tile }}, in the file name (all of a run's tiles
// go in one directory, under one _manifest.json); any other job writes
// one file and must not use it. Dashboard jobs are not split into parts.
func (l *loader) validateTileDestination(p, name string, j *Job) {
	bad := func(key, format string, args ...any) {
		l.addAt(p+"."+key, name, format, args...)
	}
	if j.TileFiles() && j.Output.Split() {
		bad("max_rows_per_file", "a dashboard job writes each tile as one file and is not split; remove max_rows_per_file and max_bytes_per_file")
	}
	if j.Destination == nil {
		return
	}
	d := SampleData(j)
	d.Tile = TileName("First tile", "1")
	a, errA := j.RenderDestination(d)
	d.Tile = TileName("Second tile", "2")
	b, errB := j.RenderDestination(d)
	if errA != nil || errB != nil {
		return // reported by validateOutput
	}
	switch {
	case !j.TileFiles() && a != b:
		bad("destination", "{{ .Tile }} names a dashboard tile's file; this job writes one file (source %s, format %s): remove it", j.Source, j.Plan.Format)
	case j.TileFiles() && a == b:
		bad("destination", `a dashboard job writes one file per data tile: put {{ .Tile }} in the destination's file name, e.g. exports/{{ .Job }}/{{ date "2006-01-02" }}/{{ .Tile }}.csv`)
	case j.TileFiles() && a[:strings.LastIndex(a, "/")+1] != b[:strings.LastIndex(b, "/")+1]:
		bad("destination", "{{ .Tile }} must be in the file name, not in a directory: the tiles of a run go in one directory, under one manifest")
	}
}
