package config_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/jobs/config"
)

// manyJobs returns a config with n jobs of the kinds people write: a Look
// with a limit, an inline query with filters, a SQL Runner query.
func manyJobs(n int) []byte {
	var b strings.Builder
	b.WriteString("looker: {base_url: https://x.looker.com, client_id: a, client_secret: b}\ndefaults:\n  timezone: Europe/Berlin\n  format: csv\njobs:\n")
	for i := range n {
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
	return []byte(b.String())
}

// BenchmarkLoad parses and validates configs of 1,000 to 100,000 jobs. The
// last is some 15 MB, over MaxFileSize: it is skipped until include: lets
// it be split into files.
func BenchmarkLoad(b *testing.B) {
	for _, n := range []int{1000, 10000, 100000} {
		b.Run(fmt.Sprintf("jobs=%d", n), func(b *testing.B) {
			data := manyJobs(n)
			if len(data) > config.MaxFileSize {
				b.Skipf("%d bytes is over config.MaxFileSize; needs include:", len(data))
			}
			b.SetBytes(int64(len(data)))
			b.ResetTimer()
			for b.Loop() {
				cfg, err := config.Parse("x.yaml", data, config.Options{LookupEnv: func(string) (string, bool) { return "", false }})
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
