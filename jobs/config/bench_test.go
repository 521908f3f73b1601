package config_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/jobs/config"
)

// manyJobs returns a config with n jobs of the kinds people write: a Look
// with a limit, an inline query with filters, a SQL Runner query.
func manyJobs(n int) []byte {
	return []byte(benchHead + "jobs:\n" + jobsYAML(0, n))
}

const benchHead = "looker: {base_url: https://x.looker.com, client_id: a, client_secret: b}\ndefaults:\n  timezone: Europe/Berlin\n  format: csv\n"

// manyFiles returns a config of n jobs split over included files of
// perFile jobs each: the main file's data and the included files.
func manyFiles(n, perFile int) ([]byte, fstest.MapFS) {
	fsys := fstest.MapFS{}
	for from := 0; from < n; from += perFile {
		fsys[fmt.Sprintf("jobs.d/%06d.yaml", from)] = &fstest.MapFile{Data: []byte("jobs:\n" + jobsYAML(from, min(from+perFile, n)))}
	}
	return []byte(benchHead + "include: [jobs.d/*.yaml]\n"), fsys
}

// jobsYAML writes jobs from to to-1 as items of a jobs list.
func jobsYAML(from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "  - name: job-%d\n    schedule: '%d 6 * * *'\n", i, i%60)
		switch i % 3 {
		case 0:
			fmt.Fprintf(&b, "    source: {look_id: %d}\n    limit: 5000\n    max_bytes_per_file: 1GiB\n", i+1)
		case 1:
			b.WriteString("    source:\n      query:\n        model: shop\n        view: orders\n        fields: [orders.id, orders.created_date]\n        filters: {orders.status: complete}\n")
		case 2:
			b.WriteString("    source:\n      sql: {connection: warehouse, sql: 'SELECT 1'}\n    run_as: 7\n")
		}
		fmt.Fprintf(&b, "    destination: exports/job-%d/{{ date \"2006-01-02\" }}.csv\n", i)
	}
	return b.String()
}

// BenchmarkLoad parses and validates configs of 1,000 to 100,000 jobs.
// 1,000 and 10,000 are one file; 100,000 (some 15 MB, over MaxFileSize)
// are 20 included files of 5,000 jobs, read from memory.
func BenchmarkLoad(b *testing.B) {
	for _, n := range []int{1000, 10000, 100000} {
		b.Run(fmt.Sprintf("jobs=%d", n), func(b *testing.B) {
			data, fsys := manyJobs(n), fstest.MapFS(nil)
			size := len(data)
			if n > 10000 {
				data, fsys = manyFiles(n, 5000)
				size = len(data)
				for _, f := range fsys {
					size += len(f.Data)
				}
			}
			b.SetBytes(int64(size))
			opts := config.Options{LookupEnv: func(string) (string, bool) { return "", false }}
			if fsys != nil {
				opts.FS = fsys
			}
			b.ResetTimer()
			for b.Loop() {
				cfg, err := config.Parse("x.yaml", data, opts)
				if err != nil {
					b.Fatal(err)
				}
				if len(cfg.Jobs) != n {
					b.Fatalf("%d jobs", len(cfg.Jobs))
				}
			}
		})
	}
}

// TestLoadGrowsLinearly guards against quadratic loading without a clock:
// the bytes allocated to load four times the jobs must grow about four
// times, not sixteen (goccy/go-yaml re-formats the whole document for
// every value given to a []byte UnmarshalYAML).
func TestLoadGrowsLinearly(t *testing.T) {
	// Not parallel: it reads the process's allocation counters.
	alloc := func(n int) uint64 {
		data := manyJobs(n)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		cfg, err := config.Parse("x.yaml", data, env(nil))
		runtime.ReadMemStats(&after)
		require.NoError(t, err)
		require.Len(t, cfg.Jobs, n)
		return after.TotalAlloc - before.TotalAlloc
	}
	small, big := alloc(200), alloc(800)
	ratio := float64(big) / float64(small)
	t.Logf("200 jobs: %d B, 800 jobs: %d B, ratio %.1f", small, big, ratio)
	require.Less(t, ratio, 6.0, "loading 4x the jobs allocates %.1fx the bytes", ratio)
}

// BenchmarkSchedulePrev is the cost of Prev, which every run pays for its
// template data (the start of its data interval), by kind of schedule.
func BenchmarkSchedulePrev(b *testing.B) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(b, err)
	for _, spec := range []string{"* * * * * *", "* * * * *", "0 * * * *", "0 6 * * *", "0 6 1 * *", "30 14 6 12 *", "@every 15m"} {
		s, err := config.ParseSchedule(spec, berlin)
		require.NoError(b, err)
		t := s.Next(time.Date(2026, 12, 6, 14, 0, 0, 0, berlin))
		b.Run(spec, func(b *testing.B) {
			for b.Loop() {
				s.Prev(t)
			}
		})
	}
}

// BenchmarkTemplateRender is the cost of rendering a destination, which
// every run pays.
func BenchmarkTemplateRender(b *testing.B) {
	tpl, err := config.ParseTemplate(`gs://bucket/{{ .Job }}/{{ hive "dt" "2006-01-02" }}/{{ date "1504" }}-{{ .RunID }}.csv`)
	require.NoError(b, err)
	d := config.TemplateData{Job: "orders", RunID: "0190a4c2-0000-7000-8000-000000000000", ScheduledTime: time.Date(2026, 12, 6, 14, 0, 0, 0, time.UTC)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tpl.Render(d); err != nil {
			b.Fatal(err)
		}
	}
}
