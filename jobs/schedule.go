package jobs

import (
	"sort"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/lookerexport/exporter/jobs/config"
)

// NextFire returns the first fire time of job strictly after from, or the
// zero time if the schedule never fires again.
//
// # Daylight saving time
//
// Cron fields are wall-clock times in the job's zone. The policy is ISC
// cron's:
//   - a fire time that falls in the hour skipped when clocks jump forward
//     runs once, at the instant of the jump (02:30 in Europe/Berlin on the
//     last Sunday of March runs at 03:00 CEST), for jobs with fixed hours; a
//     job whose hour field is * simply has no fire times in the skipped hour.
//   - a fire time in the hour repeated when clocks go back runs once, at its
//     first occurrence, for jobs with fixed hours; a job whose hour field is
//   - fires in both occurrences (its fire times are every so often, and an
//     hour really passes twice).
//
// robfig/cron alone skips the fire times of the skipped hour; NextFire
// computes fire times on the wall clock instead. @every schedules are
// intervals of real time and ignore wall clocks altogether.
func NextFire(job *config.Job, from time.Time) time.Time {
	loc := job.Location
	if loc == nil {
		loc = time.UTC
	}
	spec, ok := job.Schedule.(*cron.SpecSchedule)
	if !ok {
		return job.Schedule.Next(from).In(loc)
	}
	wall := *spec
	wall.Location = time.UTC // a floating wall clock: every wall time exists once
	anyHour := spec.Hour&(1<<24-1) == 1<<24-1
	// Near a transition, wall order and instant order differ (the repeated
	// hour reads earlier on the wall than the instants before it), so look
	// at the wall times around from and keep the earliest instant after it.
	var window time.Duration
	if start, end := from.In(loc).ZoneBounds(); (!start.IsZero() && from.Sub(start) < dstWindow) || (!end.IsZero() && end.Sub(from) < dstWindow) {
		window = dstWindow
	}
	w := floating(from.In(loc)).Add(-window)
	var best, limit time.Time
	for range 1000000 {
		w = wall.Next(w)
		if w.IsZero() || (!limit.IsZero() && w.After(limit)) {
			break
		}
		ins, gap := instants(w, loc)
		if gap && anyHour {
			continue // the wall time does not exist; its neighbours do
		}
		for i, at := range ins {
			if i > 0 && !anyHour {
				break // fixed hours: the repeated hour runs once
			}
			if at.After(from) && (best.IsZero() || at.Before(best)) {
				best = at
				if limit.IsZero() {
					limit = w.Add(window)
				}
			}
		}
		if !best.IsZero() && window == 0 {
			break
		}
	}
	return best
}

// dstWindow bounds how far a daylight saving transition moves wall clocks.
const dstWindow = 3 * time.Hour

// PrevFire returns the last fire time of job strictly before t (the start
// of the data interval that ends at t), or the zero time if there is none
// within five years.
func PrevFire(job *config.Job, t time.Time) time.Time {
	for _, back := range []time.Duration{time.Hour, 25 * time.Hour, 32 * 24 * time.Hour, 367 * 24 * time.Hour, 5 * 367 * 24 * time.Hour} {
		var last time.Time
		for at := NextFire(job, t.Add(-back)); !at.IsZero() && at.Before(t); at = NextFire(job, at) {
			last = at
		}
		if !last.IsZero() {
			return last.In(t.Location())
		}
	}
	return time.Time{}
}

// floating is t's wall clock reading as a UTC time.
func floating(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}

// instants returns the instants, in order, at which loc's wall clock reads
// w (a floating time): one normally, two in a repeated hour, and none in a
// skipped hour, where it returns the instant the clock jumped instead and
// gap true.
func instants(w time.Time, loc *time.Location) (_ []time.Time, gap bool) {
	t := time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), w.Nanosecond(), loc)
	start, end := t.ZoneBounds()
	_, off := t.Zone()
	cands := []time.Time{t}
	if !start.IsZero() {
		_, prev := start.Add(-time.Nanosecond).Zone()
		cands = append(cands, t.Add(time.Duration(off-prev)*time.Second))
	}
	if !end.IsZero() {
		_, next := end.Zone()
		cands = append(cands, t.Add(time.Duration(off-next)*time.Second))
	}
	var out []time.Time
	for _, c := range cands {
		if floating(c.In(loc)).Equal(w) && !containsInstant(out, c) {
			out = append(out, c.In(loc))
		}
	}
	if len(out) == 0 {
		// A skipped wall time: fire at the jump, the first instant after it.
		jump := t
		if s, _ := t.ZoneBounds(); !s.IsZero() && floating(s.In(loc)).After(w) {
			jump = s
		} else if !end.IsZero() {
			jump = end
		}
		return []time.Time{jump.In(loc)}, true
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out, false
}

func containsInstant(ts []time.Time, t time.Time) bool {
	for _, x := range ts {
		if x.Equal(t) {
			return true
		}
	}
	return false
}
