package config

import (
	"regexp"
	"time"
)

// DefaultDatagroupPoll is how often the daemon reads Looker's datagroups
// when scheduler.datagroup_poll_interval is not set.
const DefaultDatagroupPoll = time.Minute

// MinDatagroupPoll is the shortest scheduler.datagroup_poll_interval:
// Looker checks datagroup triggers every few minutes, so reading faster
// only loads the instance.
const MinDatagroupPoll = 10 * time.Second

// Trigger is what fires a job besides its schedule (the trigger key).
type Trigger struct {
	// Datagroup is the LookML datagroup "model::name" whose triggered_at
	// fires the job each time it advances; "" when the job has none.
	Datagroup string
}

// rawTrigger is the trigger key as written.
type rawTrigger struct {
	Datagroup string `yaml:"datagroup"`
}

// datagroupRE is a LookML model and datagroup name, as Looker names them
// (lower-case letters, digits and underscores), joined by "::".
var datagroupRE = regexp.MustCompile(`^[A-Za-z0-9_]+::[A-Za-z0-9_]+$`)

// TriggeredAt is the datagroup triggered_at a run of j at scheduled is
// for: scheduled itself when j has a datagroup trigger and scheduled is
// not a fire time of its schedule (the datagroup fired it), else the zero
// time. A triggered_at equal to a fire time of the schedule is one key,
// (job, time), and counts as the schedule's.
func (j *Job) TriggeredAt(scheduled time.Time) time.Time {
	if j.Trigger.Datagroup == "" || scheduled.IsZero() {
		return time.Time{}
	}
	if j.Schedule != nil && j.Schedule.Next(scheduled.Add(-time.Nanosecond)).Equal(scheduled) {
		return time.Time{}
	}
	return scheduled
}

// validateTrigger checks a job's trigger key; a job needs a schedule, a
// trigger, or both (validateJob reports neither).
func (l *loader) validateTrigger(p, name string, r *rawJob, j *Job) {
	if r.Trigger == nil {
		return
	}
	bad := func(key, format string, args ...any) {
		l.addAt(p+".trigger"+key, name, format, args...)
	}
	switch dg := r.Trigger.Datagroup; {
	case dg == "":
		bad("", `trigger needs datagroup: the LookML datagroup whose refresh fires the job, written model::name, e.g. trigger: {datagroup: "thelook::orders_etl"}`)
	case !datagroupRE.MatchString(dg):
		bad(".datagroup", `trigger.datagroup %q must be model::name (the LookML model, two colons, the datagroup's name), e.g. "thelook::orders_etl"`, dg)
	default:
		j.Trigger.Datagroup = dg
	}
}

// validateDatagroupPoll reads scheduler.datagroup_poll_interval.
func (l *loader) validateDatagroupPoll(raw *rawFile, cfg *Config) {
	cfg.Scheduler.DatagroupPoll = DefaultDatagroupPoll
	if s := raw.Scheduler.DatagroupPollInterval; s != "" {
		d, err := parseDuration(s)
		if err != nil || d < MinDatagroupPoll {
			l.addAt("$.scheduler.datagroup_poll_interval", "", "scheduler.datagroup_poll_interval %q: give a duration of at least %s, such as 1m (Looker checks datagroup triggers every few minutes)", s, MinDatagroupPoll)
		} else {
			cfg.Scheduler.DatagroupPoll = d
		}
	}
}

// Fires says what fires j: its schedule as written, its datagroup
// trigger, or both ("0 6 * * * + datagroup thelook::orders_etl").
func (j *Job) Fires() string {
	switch {
	case j.Trigger.Datagroup == "":
		return j.ScheduleSpec
	case j.ScheduleSpec == "":
		return "datagroup " + j.Trigger.Datagroup
	}
	return j.ScheduleSpec + " + datagroup " + j.Trigger.Datagroup
}
