package config

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Schedule is a job's schedule: when it fires next, when it fired
// before, and what that is in words. It is the one definition of fire
// times: validate, `exporter jobs`, the status page, the metrics and the
// scheduler all ask it.
type Schedule struct {
	spec string         // as written
	loc  *time.Location // the job's zone
	cron cron.Schedule
}

// String is the schedule as written, e.g. "0 6 * * *" or "@every 15m".
// A nil Schedule (a job fired only by its trigger) is "" and never fires.
func (s *Schedule) String() string {
	if s == nil {
		return ""
	}
	return s.spec
}

// Words says the schedule in English, e.g. "every day at 06:00"; the
// spec itself for forms it does not know.
func (s *Schedule) Words() string {
	if s == nil {
		return ""
	}
	return DescribeSchedule(s.spec)
}

// ParseSchedule parses a 5-field cron expression, a 6-field one with
// seconds first, or a descriptor (@daily, @every 15m), in loc. It rejects
// intervals that are not a positive whole number of seconds or more, and
// schedules with no fire time in the next five years (0 0 31 2 *).
func ParseSchedule(spec string, loc *time.Location) (*Schedule, error) {
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		return nil, errors.New("put the time zone in the job's timezone key, not in the schedule")
	}
	if every, ok := strings.CutPrefix(strings.TrimSpace(spec), "@every "); ok {
		d, err := time.ParseDuration(strings.TrimSpace(every))
		if err != nil {
			return nil, fmt.Errorf("@every needs a duration such as 15m or 1h: %v", err)
		}
		if d < time.Second {
			return nil, fmt.Errorf("@every %s: the interval must be at least 1s", d)
		}
	}
	// Not "CRON_TZ=<zone> spec": cron would load the zone from disk again
	// for every job.
	c, err := cronParser.Parse(spec)
	if err != nil {
		return nil, err
	}
	if ss, ok := c.(*cron.SpecSchedule); ok {
		ss.Location = loc
	}
	s := &Schedule{spec: spec, loc: loc, cron: c}
	if now := time.Now(); s.Next(now).IsZero() {
		return nil, errors.New("it never fires in the next five years (a date that does not exist, such as 31 February?)")
	}
	return s, nil
}

// Next returns the first fire time strictly after from, in the
// schedule's zone, or the zero time if the schedule never fires again.
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
// robfig/cron alone skips the fire times of the skipped hour; Next
// computes fire times on the wall clock instead. @every schedules are
// intervals of real time and ignore wall clocks altogether.
func (s *Schedule) Next(from time.Time) time.Time {
	if s == nil {
		return time.Time{}
	}
	loc := s.loc
	spec, ok := s.cron.(*cron.SpecSchedule)
	if !ok {
		return s.cron.Next(from).In(loc)
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

// Prev returns the last fire time strictly before t (the start of the
// data interval that ends at t), or the zero time if there is none within
// five years. Every run asks (its template data), so it looks back over
// spans that grow with the schedule's period, each from its very start
// (a fire at t-back counts): a few calls of Next whatever the schedule,
// where walking an hour of fires of a job that fires every minute took 60.
func (s *Schedule) Prev(t time.Time) time.Time {
	if s == nil {
		return time.Time{} // a job fired only by its trigger
	}
	if _, ok := s.cron.(*cron.SpecSchedule); !ok {
		// An interval (@every) has no phase: the fire before t is an
		// interval before it, which this finds as it always did.
		return s.prevWalk(t, 0, time.Hour, 25*time.Hour, 32*24*time.Hour, 367*24*time.Hour, 5*367*24*time.Hour)
	}
	return s.prevWalk(t, time.Nanosecond, time.Second, time.Minute, time.Hour, 25*time.Hour, 32*24*time.Hour, 367*24*time.Hour, 5*367*24*time.Hour)
}

// prevWalk returns the last fire before t that Next walks through from
// t-back-before, for the first span back that has one.
func (s *Schedule) prevWalk(t time.Time, before time.Duration, backs ...time.Duration) time.Time {
	for _, back := range backs {
		var last time.Time
		for at := s.Next(t.Add(-back - before)); !at.IsZero() && at.Before(t); at = s.Next(at) {
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
