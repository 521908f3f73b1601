package config_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/jobs/config"
)

func TestFileSizeCap(t *testing.T) {
	t.Parallel()
	big := []byte("# " + strings.Repeat("x", 9<<20) + "\n")
	_, err := config.Parse("big.yaml", big, env(nil))
	require.EqualError(t, err, "big.yaml: config is 9.0 MiB (9437187 bytes), over the limit of 8.0 MiB; split the jobs into files and include them")

	path := filepath.Join(t.TempDir(), "big.yaml")
	require.NoError(t, os.WriteFile(path, big, 0o600))
	_, err = config.Load(path, env(nil))
	require.EqualError(t, err, path+": config is 9.0 MiB (9437187 bytes), over the limit of 8.0 MiB; split the jobs into files and include them")
}

func TestDepthCap(t *testing.T) {
	t.Parallel()
	const deep = 100
	indented := func(n int) string { // a: {b: {c: ...}} written as block mappings
		var b strings.Builder
		for i := range n {
			b.WriteString(strings.Repeat(" ", i) + "k:\n")
		}
		return b.String()
	}
	tests := []struct {
		name, yaml string
		deep       bool
	}{
		{"flow lists", "x: " + strings.Repeat("[", deep) + strings.Repeat("]", deep) + "\n", true},
		{"flow mappings", "x: " + strings.Repeat("{a: ", deep) + "1" + strings.Repeat("}", deep) + "\n", true},
		{"unclosed", strings.Repeat("[", 1<<20), true},
		{"block lists on a line", strings.Repeat("- ", deep) + "x\n", true},
		{"complex keys", strings.Repeat("? ", deep) + "x\n", true},
		{"block mappings", indented(deep), true},
		{"closing brackets in a comment", "# " + strings.Repeat("]", deep) + "\nx: " + strings.Repeat("[", deep) + "\n", true},
		{"closing brackets in a string", "x: [\"" + strings.Repeat("]", deep) + "\", " + strings.Repeat("[", deep) + "\n", true},
		// Conservative: opening brackets in a string count.
		{"open brackets in a string", "x: '" + strings.Repeat("[", deep) + "'\n", true},

		{"shallow", indented(40), false},
		{"balanced brackets in strings", "x: \"" + strings.Repeat("a[1] ", deep) + "\"\ny: '" + strings.Repeat("{}", deep) + "'\n", false},
		{"brackets in plain text", "x: " + strings.Repeat("a[1] ", deep) + "\n", false},
		{"block scalar", "x: |-\n" + indentedText(deep) + "y: 1\n", false},
		{"long flow list", "x: [" + strings.Repeat("1, ", 10000) + "1]\n", false},
		{"flow list of mappings", "x: [" + strings.Repeat("{a: 1, b: [2, 3]}, ", 1000) + "{}]\n", false},
		{"colons in flow", "x: [" + strings.Repeat("{a: 1, b: 2}, ", 1000) + "{}]\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.Parse("x.yaml", []byte(tt.yaml), env(nil))
			require.Error(t, err) // none of these is a whole config
			if tt.deep {
				require.Contains(t, err.Error(), "config nests deeper than 64 levels")
			} else {
				require.NotContains(t, err.Error(), "nests deeper")
			}
		})
	}
}

func TestKeysCap(t *testing.T) {
	t.Parallel()
	keys := func(n int, f string) string {
		var b strings.Builder
		for i := range n {
			b.WriteString(fmt.Sprintf(f, i))
		}
		return b.String()
	}
	tests := []struct {
		name, yaml string
		wide       bool
	}{
		{"flat", keys(300, "k%d: v\n"), true},
		{"nested", "a:\n  b:\n" + keys(300, "    k%d: v\n"), true},
		{"flow", "a: {" + keys(300, "k%d: v, ") + "}\n", true},
		{"many small mappings", "a:\n" + keys(300, "  - k%d: v\n    x: 1\n"), false},
		{"a list", "a:\n" + keys(3000, "  - %d\n"), false},
		{"siblings", keys(200, "k%d: v\n") + "a:\n" + keys(200, "  j%d: v\n"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.Parse("x.yaml", []byte(tt.yaml), env(nil))
			require.Error(t, err)
			if tt.wide {
				require.Contains(t, err.Error(), "a mapping holds more than 256 keys")
			} else {
				require.NotContains(t, err.Error(), "more than 256 keys")
			}
		})
	}
}

// indentedText is a block scalar body indented ever deeper, like nested SQL.
func indentedText(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString("  " + strings.Repeat(" ", i) + "(select a[1], {b}\n")
	}
	return b.String()
}

func TestExamplesWithinLimits(t *testing.T) {
	t.Parallel()
	for _, f := range []string{"../../config.example.yaml", "../../cmd/exporter/demo.yaml", "testdata/valid.yaml"} {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		_, err = config.Parse(f, data, env(map[string]string{"TEST_SECRET": "x"}))
		if err != nil {
			require.NotContains(t, err.Error(), "nests deeper", f)
		}
	}
}

// pathological returns YAML files that the parser takes far more than a
// second on (measured with goccy/go-yaml v1.19: 8 MiB of "[a,a,a" 14 s,
// "-" lines of 400 KB 20 s), each under MaxFileSize: a tokens cap and a
// cost cap on empty values must refuse them before parsing.
func pathological() []struct{ name, yaml, cap string } {
	const tokens, nulls = "more than 400,000 YAML tokens", "empty values"
	fill := func(head, item, tail string) string { // as many items as fit in 8 MiB
		return head + strings.Repeat(item, (config.MaxFileSize-len(head)-len(tail))/len(item)) + tail
	}
	return []struct{ name, yaml, cap string }{
		{"packed flow list", fill("x: [", "a,", "a]\n"), tokens},
		{"packed flow mappings", fill("jobs: [", "{},", "{}]\n"), tokens},
		{"packed flow lists", fill("x: [", "[],", "a]\n"), tokens},
		{"aliases", fill("x: [&a a, ", "*a,", "a]\n"), tokens},
		{"block list", fill("x:\n", "- a\n", ""), tokens},
		{"comments", fill("", "#\n", ""), tokens},
		{"documents", fill("", "---\n", ""), tokens},
		{"dash lines", strings.Repeat("-\n", 40000), nulls},
		{"keys without values in a list", "jobs:\n" + strings.Repeat("- b:\n", 30000), nulls},
		{"keys without values", "jobs:\n" + strings.Repeat("- a:\n  b: 1\n", 20000), nulls},
		{"flow keys without values", "x: [" + strings.Repeat("{a},", 20000) + "]\n", nulls},
		{"flow keys with empty values", "x: [" + strings.Repeat("{a: },", 20000) + "]\n", nulls},
	}
}

// TestPathologicalFilesRefusedBeforeParsing: each file is refused by the
// pre-scan (its message, not the parser's), so none costs the parser's
// time; FuzzParse's seeds time a smaller copy of each.
func TestPathologicalFilesRefusedBeforeParsing(t *testing.T) {
	t.Parallel()
	for _, tt := range pathological() {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.LessOrEqual(t, len(tt.yaml), config.MaxFileSize)
			_, err := config.Parse("big.yaml", []byte(tt.yaml), env(nil))
			require.Error(t, err)
			msg := err.Error()
			require.Contains(t, msg[:min(len(msg), 500)], tt.cap)
			require.Regexp(t, `^big\.yaml:\d+: `, err.Error(), "names the file and line")
			require.NotContains(t, err.Error(), "\n", "one problem, from the pre-scan")
		})
	}
}

// TestBigConfigsWithinLimits: the configs of BenchmarkLoad (10,000 jobs
// in one file; 100,000 in 20 included files) and empty values people
// write stay within the pre-scan's caps.
func TestBigConfigsWithinLimits(t *testing.T) {
	t.Parallel()
	opts := env(nil)
	cfg, err := config.Parse("x.yaml", manyJobs(10000), opts)
	require.NoError(t, err)
	require.Len(t, cfg.Jobs, 10000)

	// 100,000 jobs are 20 included files like this one.
	_, fsys := manyFiles(5000, 5000)
	_, err = config.Parse("a.yaml", fsys["jobs.d/000000.yaml"].Data, opts)
	require.Error(t, err) // no looker section
	require.NotContains(t, err.Error(), "tokens")
	require.NotContains(t, err.Error(), "empty values")

	nulls := benchHead + "notify:\n" + strings.Repeat("  - name: x\n    events:\n    format:\n", 500) + "jobs:\n" + jobsYAML(0, 5000)
	_, err = config.Parse("x.yaml", []byte(nulls), env(nil))
	require.Error(t, err)
	require.NotContains(t, err.Error(), "empty values", "1,000 empty values at the top of 5,000 jobs")
}

// TestProblemsAreCapped: a file of very many broken jobs is not decoded
// and validated to the end: loading stops after MaxProblems problems and
// says so (the message of 190,000 broken jobs was 19 MB).
func TestProblemsAreCapped(t *testing.T) {
	t.Parallel()
	for _, y := range []string{
		benchHead + "jobs: [" + strings.Repeat("a,", 11000) + "a]\n",
		benchHead + "jobs:\n" + strings.Repeat("  - {name: a}\n", 11000),
		benchHead + "jobs:\n" + strings.Repeat("  - {name: a, nope: 1}\n", 11000),
	} {
		start := time.Now()
		_, err := config.Parse("x.yaml", []byte(y), env(nil))
		t.Logf("%d bytes: %v", len(y), time.Since(start))
		require.Error(t, err)
		lines := strings.Split(err.Error(), "\n")
		require.Len(t, lines, config.MaxProblems+1)
		require.Equal(t, "x.yaml: stopped after 100 problems; fix these and run exporter validate again", lines[config.MaxProblems])
		require.Regexp(t, `^x\.yaml:\d+: `, lines[0])
	}
}

// TestJobsPerFileCap: 130,000 empty jobs fit in 400 KB and MaxTokens, and
// took 12 s to decode (and a 58 MB message): a file holds at most MaxJobs.
func TestJobsPerFileCap(t *testing.T) {
	t.Parallel()
	_, err := config.Parse("x.yaml", []byte(benchHead+"jobs: ["+strings.Repeat("{},", 130000)+"{}]\n"), env(nil))
	require.EqualError(t, err, "x.yaml:5: 130,001 jobs in one file, more than 12,000; split the jobs into files and include them")
}
