package jobs_test

import (
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/state"
)

const hourly = "schedule: '0 * * * *'\nsource: {look_id: '42'}\nformat: csv\ndestination: '$DIR/{{ date \"1504\" }}.csv'\n"

// TestSchedulerHandlesMissedFiresWithoutARestart pins that fire times that
// passed while the process was frozen (its timer delivered hours late) or
// while the wall clock jumped forward are noticed by the running scheduler,
// within a minute for a jump, and go through the job's catchup policy as
// at start: none of them, the latest, or all in order within
// catchup_window. The schedule then goes on.
func TestSchedulerHandlesMissedFiresWithoutARestart(t *testing.T) {
	t.Parallel()
	at := func(h, m int) time.Time { return time.Date(2026, 11, 27, h, m, 0, 0, time.UTC) }
	start := at(6, 0).Add(30 * time.Second)
	for _, how := range []struct {
		name string
		pass func(t *testing.T, f *schedFixture) // three hours pass, then the scheduler looks
	}{
		{"frozen", func(t *testing.T, f *schedFixture) {
			f.clock.AdvanceTo(start.Add(3 * time.Hour)) // 07:00's timer delivered at 09:00:30
		}},
		{"wall clock jumped", func(t *testing.T, f *schedFixture) {
			f.clock.Jump(3 * time.Hour) // no timer fires: they run on the monotonic clock
			watch := f.clock.nextTimer()
			require.False(t, watch.After(f.clock.Now().Add(time.Minute)), "the loop looks at the wall clock within a minute")
			f.clock.AdvanceTo(watch)
		}},
	} {
		for _, tc := range []struct {
			keys string
			want []time.Time
		}{
			{"catchup: none", nil},
			{"catchup: latest", []time.Time{at(9, 0)}},
			{"catchup: all", []time.Time{at(7, 0), at(8, 0), at(9, 0)}},
			{"catchup: all\ncatchup_window: 90m", []time.Time{at(8, 0), at(9, 0)}},
		} {
			t.Run(how.name+"/"+tc.keys, func(t *testing.T) {
				t.Parallel()
				b := setup(t, 5)
				f := startScheduler(t, b, start, time.Minute, hourly+tc.keys)
				f.clock.waitFire(t, at(7, 0))
				how.pass(t, f)
				eventually(t, "the loop to look and wait for 10:00", func() bool {
					return f.clock.timerAt(at(10, 0)) && f.clock.timerAt(f.clock.Now().Add(time.Minute))
				})
				eventually(t, "the missed fires to run", func() bool { return f.sched.InFlight() == 0 && len(f.runs(t)) == len(tc.want) })
				var got []time.Time
				for _, r := range f.runs(t) {
					require.Equal(t, state.Succeeded, r.Status)
					got = append(got, r.ScheduledTime)
				}
				sort.Slice(got, func(i, j int) bool { return got[i].Before(got[j]) })
				require.Len(t, got, len(tc.want))
				for i := range tc.want {
					require.True(t, tc.want[i].Equal(got[i]), "run %d: want %s, got %s", i, tc.want[i], got[i])
				}
				f.clock.AdvanceTo(at(10, 0))
				f.waitRuns(t, len(tc.want)+1, state.Succeeded)
			})
		}
	}
}

// TestSchedulerWallClockJumpingBackFiresNothingTwice pins that after the
// wall clock steps back over a fire that ran, neither that fire nor the
// next runs again or early: the next runs once, at its time.
func TestSchedulerWallClockJumpingBackFiresNothingTwice(t *testing.T) {
	t.Parallel()
	at := func(h, m int) time.Time { return time.Date(2026, 11, 27, h, m, 0, 0, time.UTC) }
	b := setup(t, 5)
	f := startScheduler(t, b, at(6, 0).Add(30*time.Second), time.Minute, hourly)
	f.clock.waitFire(t, at(7, 0))
	f.clock.AdvanceTo(at(7, 0))
	f.waitRuns(t, 1, state.Succeeded)
	f.clock.waitFire(t, at(8, 0))

	f.clock.Jump(-2 * time.Hour) // 05:00; the loop's timers now end at 05:01 and 06:00
	f.clock.AdvanceTo(at(7, 0))  // past them: 07:00 again, an hour before 08:00
	eventually(t, "the loop to wait for 08:00 again", func() bool { return f.clock.timerAt(at(8, 0)) })
	eventually(t, "no run in flight", func() bool { return f.sched.InFlight() == 0 })
	require.Len(t, f.runs(t), 1, "07:00 is not run again, 08:00 not early")

	f.clock.AdvanceTo(at(8, 0))
	runs := f.waitRuns(t, 2, state.Succeeded)
	require.True(t, runs[0].ScheduledTime.Equal(at(8, 0)))
	require.True(t, runs[1].ScheduledTime.Equal(at(7, 0)))
}
