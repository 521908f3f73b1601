package lookerapi

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// Datagroup is a LookML datagroup's caching state (spec Datagroup). Zero
// times mean Looker sent null (never triggered, never checked).
type Datagroup struct {
	ID    string
	Model string // model_name
	Name  string
	// TriggeredAt is when the datagroup last triggered (its sql_trigger's
	// value changed, or max_cache_age passed): what a "run when the data is
	// fresh" trigger watches advance.
	TriggeredAt    time.Time
	StaleBefore    time.Time // cache entries from before it are stale
	TriggerCheckAt time.Time // when Looker last checked the trigger
	TriggerError   string    // the last trigger check's error; "" when none
	TriggerValue   string    // the trigger's value when last checked
}

// Key is "model::name", how the exporter names a datagroup.
func (d Datagroup) Key() string { return d.Model + "::" + d.Name }

// Datagroups lists every datagroup Looker knows: GET /datagroups (spec
// all_datagroups; its timestamps are unix seconds).
func (c *Client) Datagroups(ctx context.Context) ([]Datagroup, error) {
	var raw []struct {
		ID             json.RawMessage `json:"id"`
		ModelName      string          `json:"model_name"`
		Name           string          `json:"name"`
		TriggeredAt    *int64          `json:"triggered_at"`
		StaleBefore    *int64          `json:"stale_before"`
		TriggerCheckAt *int64          `json:"trigger_check_at"`
		TriggerError   string          `json:"trigger_error"`
		TriggerValue   string          `json:"trigger_value"`
	}
	r := &request{op: "all_datagroups", method: http.MethodGet, path: "/datagroups"}
	if err := c.getJSON(ctx, r, &raw); err != nil {
		return nil, err
	}
	unix := func(u *int64) time.Time {
		if u == nil || *u <= 0 {
			return time.Time{}
		}
		return time.Unix(*u, 0).UTC()
	}
	out := make([]Datagroup, 0, len(raw))
	for _, d := range raw {
		out = append(out, Datagroup{ID: idString(d.ID), Model: d.ModelName, Name: d.Name, TriggeredAt: unix(d.TriggeredAt),
			StaleBefore: unix(d.StaleBefore), TriggerCheckAt: unix(d.TriggerCheckAt), TriggerError: d.TriggerError, TriggerValue: d.TriggerValue})
	}
	return out, nil
}
