package config_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/jobs/config"
)

func TestTriggerKeys(t *testing.T) {
	t.Parallel()
	y := schedHeader + `scheduler: {datagroup_poll_interval: 30s}
jobs:
  - name: fresh
    trigger: {datagroup: "thelook::orders_etl"}
    source: {look_id: '1'}
    format: csv
    destination: /tmp/fresh-{{ .TriggeredAt.Format "20060102T150405" }}.csv
  - name: both
    schedule: '0 6 * * *'
    trigger: {datagroup: "thelook::orders_etl"}
    source: {look_id: '1'}
    format: csv
    destination: /tmp/both.csv
  - name: cron
    schedule: '0 6 * * *'
    source: {look_id: '1'}
    format: csv
    destination: /tmp/cron.csv
`
	cfg, err := config.Parse("t.yaml", []byte(y), env(nil))
	require.NoError(t, err)
	require.Equal(t, 30*time.Second, cfg.Scheduler.DatagroupPoll)

	fresh := cfg.Job("fresh")
	require.Equal(t, "thelook::orders_etl", fresh.Trigger.Datagroup)
	require.Nil(t, fresh.Schedule, "a job with only a trigger has no schedule")
	require.True(t, fresh.Schedule.Next(time.Now()).IsZero(), "and never fires on the clock")
	at := time.Date(2026, 11, 27, 6, 0, 13, 0, time.UTC)
	require.Equal(t, at, fresh.TriggeredAt(at))

	both := cfg.Job("both")
	require.Equal(t, at, both.TriggeredAt(at), "not a fire time of the schedule: the datagroup fired it")
	fire := time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)
	require.True(t, both.TriggeredAt(fire).IsZero(), "a fire time of the schedule is the schedule's run")
	require.True(t, cfg.Job("cron").TriggeredAt(at).IsZero())
	require.Equal(t, "", cfg.Job("cron").Trigger.Datagroup)

	d := config.SampleData(fresh)
	d.TriggeredAt = at
	dest, err := fresh.Destination.Render(d)
	require.NoError(t, err)
	require.Equal(t, "/tmp/fresh-20261127T060013.csv", dest)

	cfg, err = config.Parse("t.yaml", []byte(schedHeader+`jobs: [{name: a, trigger: {datagroup: "m::d"}, source: {look_id: '1'}, format: csv, destination: /tmp/a.csv}]`), env(nil))
	require.NoError(t, err)
	require.Equal(t, config.DefaultDatagroupPoll, cfg.Scheduler.DatagroupPoll, "polls every minute by default")
}

func TestTriggerKeyProblems(t *testing.T) {
	t.Parallel()
	y := schedHeader + `scheduler: {datagroup_poll_interval: 1s}
jobs:
  - name: a
    trigger:
      datagroup: orders_etl
    source: {look_id: '1'}
    format: csv
    destination: /tmp/a.csv
  - name: b
    trigger: {}
    source: {look_id: '1'}
    format: csv
    destination: /tmp/b.csv
  - name: c
    trigger: {datagroup: "thelook::orders_etl", when: fresh}
    source: {look_id: '1'}
    format: csv
    destination: /tmp/c.csv
  - name: d
    source: {look_id: '1'}
    format: csv
    destination: /tmp/d.csv
  - name: e
    schedule: '@daily'
    trigger: {datagroup: "thelook::orders etl::x"}
    source: {look_id: '1'}
    format: csv
    destination: /tmp/e.csv
  - name: f
    trigger: "thelook::orders_etl"
    source: {look_id: '1'}
    format: csv
    destination: /tmp/f.csv
`
	_, err := config.Parse("t.yaml", []byte(y), env(nil))
	require.Error(t, err)
	for _, want := range []string{
		`t.yaml:2: scheduler.datagroup_poll_interval "1s": give a duration of at least 10s`,
		`t.yaml:6: job "a": trigger.datagroup "orders_etl" must be model::name (the LookML model, two colons, the datagroup's name), e.g. "thelook::orders_etl"`,
		`t.yaml:11: job "b": trigger needs datagroup`,
		`t.yaml:16: job "c": unknown key "when" in`,
		`t.yaml:20: job "d": schedule is required`,
		`t.yaml:26: job "e": trigger.datagroup "thelook::orders etl::x" must be model::name`,
		`t.yaml:31: job "f": trigger: expected a mapping with datagroup, found "thelook::orders_etl"`,
	} {
		require.Contains(t, err.Error(), want)
	}
	require.NotContains(t, err.Error(), `job "c": schedule is required`, "a trigger alone is enough")
	require.NotContains(t, err.Error(), `job "f": schedule is required`, "not a follow-on of a trigger of the wrong kind")
}
