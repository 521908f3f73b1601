package lookertest

import (
	"fmt"
	"net/http"
	"time"
)

// Sample datagroups of model thelook (spec schema Datagroup; NOTES
// §13.11): "orders_etl", triggered at DatagroupTriggeredAt until a test
// advances it, and "daily_rollup", whose trigger check fails
// (trigger_error set, never triggered: triggered_at null).
const (
	DatagroupModel  = modelName
	DatagroupName   = "orders_etl"
	BrokenDatagroup = "daily_rollup"
	// BrokenDatagroupError is the trigger_error of BrokenDatagroup.
	BrokenDatagroupError = `ERROR: relation "etl_log" does not exist`
)

// DatagroupTriggeredAt is the initial triggered_at of DatagroupName.
var DatagroupTriggeredAt = time.Date(2024, 1, 1, 6, 0, 0, 0, time.UTC)

type datagroup struct {
	id, model, name          string
	created                  int64
	triggeredAt, staleBefore int64 // 0: null
	checkAt                  int64
	value, err               string
}

func (s *Server) addDatagroups() {
	t := DatagroupTriggeredAt.Unix()
	s.datagroups = []*datagroup{
		{id: "1", model: DatagroupModel, name: DatagroupName, created: t - 86400, triggeredAt: t, staleBefore: t, checkAt: t, value: "2024-01-01"},
		{id: "2", model: DatagroupModel, name: BrokenDatagroup, created: t - 86400, checkAt: t, err: BrokenDatagroupError},
	}
}

// AdvanceDatagroup fires datagroup model::name at instant at, as Looker
// does when its sql_trigger's value changes: triggered_at, stale_before
// (cache entries from before are stale) and trigger_check_at become at,
// trigger_value changes and trigger_error clears. It panics on an
// unknown datagroup or an instant in the future of the server's clock
// (the spec: triggered_at "cannot be in the future"): it is a test helper.
func (s *Server) AdvanceDatagroup(model, name string, at time.Time) {
	if at.After(s.now()) {
		panic(fmt.Sprintf("lookertest: datagroup %s::%s cannot trigger in the future (%s)", model, name, at))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.datagroups {
		if d.model == model && d.name == name {
			u := at.Unix()
			d.triggeredAt, d.staleBefore, d.checkAt, d.err = u, u, u, ""
			d.value = at.UTC().Format(time.RFC3339)
			return
		}
	}
	panic(fmt.Sprintf("lookertest: no datagroup %s::%s", model, name))
}

// datagroupsHandler is GET /datagroups (spec op all_datagroups): every
// datagroup of every model, with unix-second timestamps (null when never
// set).
func (s *Server) datagroupsHandler(c *call) {
	unix := func(u int64) any {
		if u == 0 {
			return nil
		}
		return u
	}
	s.mu.Lock()
	out := make([]any, 0, len(s.datagroups))
	for _, d := range s.datagroups {
		out = append(out, map[string]any{
			"id": d.id, "model_name": d.model, "name": d.name, "created_at": unix(d.created),
			"triggered_at": unix(d.triggeredAt), "stale_before": unix(d.staleBefore), "trigger_check_at": unix(d.checkAt),
			"trigger_value": nilIfEmpty(d.value), "trigger_error": nilIfEmpty(d.err),
			"can": map[string]bool{"show": true, "update": true},
		})
	}
	s.mu.Unlock()
	c.writeJSON(http.StatusOK, out)
}
