package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/jobs/config"
	"github.com/lookerexport/exporter/jobs/web"
	"github.com/lookerexport/exporter/lookerapi/lookertest"
)

// triggeredJobsYAML are two jobs fired by datagroups alone: one whose
// datagroup triggers, one whose trigger check fails in Looker.
const triggeredJobsYAML = `jobs:
  - {name: fresh, timezone: Europe/Berlin, trigger: {datagroup: "thelook::orders_etl"}, source: {look_id: '42'}, format: csv, destination: %[1]s/fresh.csv}
  - {name: broken, trigger: {datagroup: "thelook::daily_rollup"}, source: {look_id: '42'}, format: csv, destination: %[1]s/broken.csv}
`

// TestDatagroupTriggerShown: the status page, the API and `exporter jobs`
// show each job's datagroup, the latest triggered_at it ran for and, in
// the daemon, what Looker last said of it (its trigger_error included).
func TestDatagroupTriggerShown(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	cfg, err := config.Parse("t.yaml", fmt.Appendf(nil, "looker: {base_url: https://x.cloud.looker.com, client_id: a, client_secret: b}\n"+triggeredJobsYAML, out), config.Options{})
	require.NoError(t, err)
	d := startDaemon(t, "127.0.0.1:9464", func(s *jobs.Scheduler) {
		s.Datagroups = s.Runner.Looker.(jobs.Datagroups)
		s.Jobs = append(s.Jobs, cfg.Jobs...)
	})
	fresh := cfg.Job("fresh")
	_, err = (&jobs.Trigger{Runner: d.app.runner}).Run(context.Background(), fresh, lookertest.DatagroupTriggeredAt, jobs.TriggerOptions{})
	require.NoError(t, err)

	var infos map[string]web.JobInfo
	require.Eventually(t, func() bool {
		code, body := d.do(t, http.MethodGet, "/api/v1/jobs", true)
		require.Equal(t, http.StatusOK, code, body)
		var list struct{ Jobs []web.JobInfo }
		require.NoError(t, json.Unmarshal([]byte(body), &list))
		infos = map[string]web.JobInfo{}
		for _, ji := range list.Jobs {
			infos[ji.Name] = ji
		}
		return infos["broken"].Trigger != nil && infos["broken"].Trigger.CheckedAt != nil
	}, 20*time.Second, 5*time.Millisecond, "the first datagroup poll")
	require.Nil(t, infos["orders_csv"].Trigger, "a job with a schedule only has no trigger")
	ft := infos["fresh"].Trigger
	require.Equal(t, "thelook::orders_etl", ft.Datagroup)
	berlin := lookertest.DatagroupTriggeredAt.In(fresh.Location)
	require.Equal(t, berlin.Format(time.RFC3339), ft.LastRunFor.Format(time.RFC3339))
	require.Equal(t, berlin.Format(time.RFC3339), ft.TriggeredAt.Format(time.RFC3339))
	require.Empty(t, ft.Error)
	require.Equal(t, "the datagroup's trigger check failed in Looker: "+lookertest.BrokenDatagroupError, infos["broken"].Trigger.Error)
	require.Nil(t, infos["broken"].Trigger.LastRunFor)

	_, page := d.do(t, http.MethodGet, "/", false)
	require.Contains(t, page, "datagroup <code>thelook::orders_etl</code> · ran for")
	_, page = d.do(t, http.MethodGet, "/jobs/broken", false)
	require.Contains(t, page, "when datagroup <code>thelook::daily_rollup</code> triggers; last ran for none yet")
	require.Contains(t, page, "trigger check failed in Looker: ERROR: relation")

	conf := filepath.Join(d.dir, "cli.yaml")
	require.NoError(t, os.WriteFile(conf, fmt.Appendf(nil, "looker: {base_url: %s, client_id: x, client_secret: y}\nstate: {dsn: %s}\n%s",
		d.looker.URL(), filepath.Join(d.dir, "state.db"), fmt.Sprintf(triggeredJobsYAML, out)), 0o600))
	code, text, errOut := exec(t, context.Background(), "jobs", "--config", conf)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, text, "datagroup thelook::orders_etl (last ran for "+berlin.Format("2006-01-02 15:04:05 MST")+")")
	require.Contains(t, text, "datagroup thelook::daily_rollup (never ran for it)")
	require.Contains(t, text, "when the datagroup triggers")
	code, text, errOut = exec(t, context.Background(), "jobs", "--config", conf, "-o", "json")
	require.Equal(t, 0, code, errOut)
	require.True(t, strings.Contains(text, `"trigger": {`) || strings.Contains(text, `"trigger":{`), text)
	require.Contains(t, text, `"last_run_for": "`+berlin.Format(time.RFC3339)+`"`)
	code, text, errOut = exec(t, context.Background(), "validate", "--config", conf)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, text, "datagroup thelook::orders_etl")
}
