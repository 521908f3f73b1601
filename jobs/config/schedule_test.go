package config_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/jobs/config"
)

func scheduleJob(t *testing.T, spec, zone string) *config.Job {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	require.NoError(t, err)
	s, err := config.ParseSchedule(spec, loc)
	require.NoError(t, err)
	return &config.Job{Name: "dst", Schedule: s, ScheduleSpec: spec, Location: loc}
}

// fires lists the fire times after from, n of them, as "local (UTC)".
func fires(job *config.Job, from time.Time, n int) []string {
	var out []string
	for at := from; len(out) < n; {
		at = job.Schedule.Next(at)
		if at.IsZero() {
			break
		}
		out = append(out, at.Format("01-02 15:04 MST")+" ("+at.UTC().Format("15:04")+"Z)")
	}
	return out
}

func TestNextFireDST(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		spec string
		zone string
		from time.Time
		want []string
	}{
		{
			name: "Berlin spring forward: fixed time in the skipped hour runs once at the jump",
			spec: "30 2 * * *", zone: "Europe/Berlin",
			from: time.Date(2026, 3, 28, 12, 0, 0, 0, time.UTC),
			want: []string{"03-29 03:00 CEST (01:00Z)", "03-30 02:30 CEST (00:30Z)"},
		},
		{
			name: "Berlin spring forward: every 30 minutes has no fire times in the skipped hour",
			spec: "*/30 * * * *", zone: "Europe/Berlin",
			from: time.Date(2026, 3, 29, 0, 10, 0, 0, time.UTC), // 01:10 CET
			want: []string{"03-29 01:30 CET (00:30Z)", "03-29 03:00 CEST (01:00Z)", "03-29 03:30 CEST (01:30Z)"},
		},
		{
			name: "Berlin spring forward: every minute of the skipped hour is one fire at the jump",
			spec: "*/20 2 * * *", zone: "Europe/Berlin",
			from: time.Date(2026, 3, 28, 12, 0, 0, 0, time.UTC),
			want: []string{"03-29 03:00 CEST (01:00Z)", "03-30 02:00 CEST (00:00Z)", "03-30 02:20 CEST (00:20Z)"},
		},
		{
			name: "Berlin fall back: fixed time in the repeated hour runs once",
			spec: "30 2 * * *", zone: "Europe/Berlin",
			from: time.Date(2026, 10, 24, 12, 0, 0, 0, time.UTC),
			want: []string{"10-25 02:30 CEST (00:30Z)", "10-26 02:30 CET (01:30Z)"},
		},
		{
			name: "Berlin fall back: every 30 minutes fires in both occurrences",
			spec: "*/30 * * * *", zone: "Europe/Berlin",
			from: time.Date(2026, 10, 24, 23, 45, 0, 0, time.UTC), // 01:45 CEST
			want: []string{"10-25 02:00 CEST (00:00Z)", "10-25 02:30 CEST (00:30Z)", "10-25 02:00 CET (01:00Z)", "10-25 02:30 CET (01:30Z)", "10-25 03:00 CET (02:00Z)"},
		},
		{
			name: "New York spring forward: fixed time in the skipped hour runs once at the jump",
			spec: "15 2 * * *", zone: "America/New_York",
			from: time.Date(2026, 3, 7, 12, 0, 0, 0, time.UTC),
			want: []string{"03-08 03:00 EDT (07:00Z)", "03-09 02:15 EDT (06:15Z)"},
		},
		{
			name: "New York spring forward: hourly skips the missing hour",
			spec: "0 * * * *", zone: "America/New_York",
			from: time.Date(2026, 3, 8, 6, 30, 0, 0, time.UTC), // 01:30 EST
			want: []string{"03-08 03:00 EDT (07:00Z)", "03-08 04:00 EDT (08:00Z)"},
		},
		{
			name: "New York fall back: fixed time in the repeated hour runs once",
			spec: "30 1 * * *", zone: "America/New_York",
			from: time.Date(2026, 10, 31, 12, 0, 0, 0, time.UTC),
			want: []string{"11-01 01:30 EDT (05:30Z)", "11-02 01:30 EST (06:30Z)"},
		},
		{
			name: "New York fall back: from inside the second occurrence, a fixed time does not run again",
			spec: "30 1 * * *", zone: "America/New_York",
			from: time.Date(2026, 11, 1, 6, 10, 0, 0, time.UTC), // 01:10 EST
			want: []string{"11-02 01:30 EST (06:30Z)"},
		},
		{
			name: "New York fall back: hourly fires in both occurrences",
			spec: "0 * * * *", zone: "America/New_York",
			from: time.Date(2026, 11, 1, 4, 30, 0, 0, time.UTC), // 00:30 EDT
			want: []string{"11-01 01:00 EDT (05:00Z)", "11-01 01:00 EST (06:00Z)", "11-01 02:00 EST (07:00Z)"},
		},
		{
			name: "every interval ignores wall clocks",
			spec: "@every 90m", zone: "America/New_York",
			from: time.Date(2026, 11, 1, 4, 30, 0, 0, time.UTC),
			want: []string{"11-01 01:00 EST (06:00Z)", "11-01 02:30 EST (07:30Z)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			job := scheduleJob(t, tt.spec, tt.zone)
			require.Equal(t, tt.want, fires(job, tt.from, len(tt.want)))
		})
	}
}

func TestPrevFire(t *testing.T) {
	t.Parallel()
	var none *config.Schedule // a job fired only by its trigger
	require.True(t, none.Prev(time.Now()).IsZero())
	job := scheduleJob(t, "0 6 * * *", "Europe/Berlin")
	at := time.Date(2026, 3, 30, 4, 0, 0, 0, time.UTC) // 06:00 CEST
	require.Equal(t, time.Date(2026, 3, 29, 4, 0, 0, 0, time.UTC), job.Schedule.Prev(at).UTC())
	hourly := scheduleJob(t, "0 * * * *", "America/New_York")
	at = time.Date(2026, 11, 1, 6, 0, 0, 0, time.UTC) // 01:00 EST
	require.Equal(t, time.Date(2026, 11, 1, 5, 0, 0, 0, time.UTC), hourly.Schedule.Prev(at).UTC(), "01:00 EDT")
}

// TestPrevIsTheFireBefore: Prev(t) is the last of the fire times that
// Next walks through before t, for schedules of every frequency, at fire
// times and between them, across daylight saving transitions.
func TestPrevIsTheFireBefore(t *testing.T) {
	t.Parallel()
	type sched struct {
		spec string
		span time.Duration // longer than the gap between two fires
	}
	scheds := []sched{
		{"*/20 * * * * *", time.Minute},
		{"* * * * *", 10 * time.Minute},
		{"*/7 * * * *", time.Hour},
		{"0 * * * *", 3 * time.Hour},
		{"30 2 * * *", 3 * 24 * time.Hour},
		{"0 6 * * 1-5", 5 * 24 * time.Hour},
		{"0 0 1 * *", 70 * 24 * time.Hour},
		{"15 10 29 2 *", 5 * 366 * 24 * time.Hour},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, zone := range []string{"UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"} {
		for _, sc := range scheds {
			job := scheduleJob(t, sc.spec, zone)
			s := job.Schedule
			// Times around the transitions of 2026 and at random in it;
			// each also at the fire time after it.
			var ts []time.Time
			for _, d := range []time.Time{time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC), time.Date(2026, 11, 1, 6, 0, 0, 0, time.UTC),
				time.Date(2026, 4, 5, 15, 30, 0, 0, time.UTC), time.Date(2026, 10, 4, 15, 30, 0, 0, time.UTC)} {
				for k := -3; k <= 3; k++ {
					ts = append(ts, d.Add(time.Duration(k)*17*time.Minute))
				}
			}
			for range 20 {
				ts = append(ts, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rng.Int64N(int64(365*24*time.Hour)))))
			}
			for _, at := range ts {
				for _, tt := range []time.Time{at, s.Next(at)} {
					var want time.Time
					for f := s.Next(tt.Add(-sc.span)); !f.IsZero() && f.Before(tt); f = s.Next(f) {
						want = f
					}
					require.False(t, want.IsZero(), "%s in %s: no fire in the span before %s", sc.spec, zone, tt)
					got := s.Prev(tt)
					require.True(t, want.Equal(got), "%s in %s: Prev(%s) = %s, want %s", sc.spec, zone, tt, got, want)
					require.Equal(t, tt.Location(), got.Location())
				}
			}
		}
	}
}
