package publish

// Dashboard is the dashboard of a run that exported its data tiles, one
// file each.
type Dashboard struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	Tiles []Tile `json:"tiles"`
}

// Tile is one data tile of a dashboard run and the file it was written
// to.
type Tile struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	Kind  string `json:"kind"` // "data", or "merge" for a merged result (merged by the exporter)
	File  string `json:"file"` // a FileInfo's Name: relative to the manifest's directory
	Rows  int64  `json:"rows"`
	// LookerQueryIDs are the queries that ran: one for a data tile, the
	// merge's source queries (primary first) for a merged result.
	LookerQueryIDs []string `json:"looker_query_ids"`
	QueryTimezone  string   `json:"query_timezone,omitempty"`
	TimezoneSource string   `json:"timezone_source,omitempty"`
	Schema         []Column `json:"schema"`
}
