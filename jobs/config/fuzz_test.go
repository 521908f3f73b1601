package config_test

import (
	"testing"
	"testing/fstest"
	"time"

	"github.com/lookerexport/exporter/jobs/config"
)

// FuzzParse feeds config.Parse arbitrary files: it must never panic, hang
// or take a second, and its errors must never speak in Go types. The seed corpus (testdata/fuzz/FuzzParse) holds the
// shipped examples and edge cases of the pre-scan limits.
func FuzzParse(f *testing.F) {
	f.Add([]byte("looker: {base_url: https://x.looker.com, client_id: a, client_secret: b}\njobs:\n  - {name: j, schedule: '@daily', source: {look_id: 1}, format: csv, destination: x.csv}\n"))
	f.Add([]byte("looker: {base_url: https://x.looker.com, client_id: a, client_secret: b}\ninclude: [jobs.d/*.yaml, b.yaml]\njobs:\n  - {name: j, schedule: '@daily', source: {look_id: 1}, format: csv, destination: x.csv}\n"))
	// Includes are read from memory: a fuzzed glob must not walk the disk.
	opts := config.Options{
		LookupEnv: func(k string) (string, bool) { return "v-" + k, true },
		FS: fstest.MapFS{
			"jobs.d/a.yaml": {Data: []byte("jobs:\n  - {name: a, schedule: '@daily', source: {look_id: 1}, format: csv, destination: a.csv}\n")},
			"b.yaml":        {Data: []byte("jobs: [{name: b, limit: [1]}]\nlooker: {}\n")},
		},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// Parse in a goroutine so that a hang fails here, with the
		// input saved, rather than stalling the fuzzer.
		type result struct {
			cfg *config.Config
			err error
		}
		done := make(chan result, 1)
		go func() {
			cfg, err := config.Parse("fuzz.yaml", data, opts)
			done <- result{cfg, err}
		}()
		var r result
		select {
		case r = <-done:
		case <-time.After(time.Second):
			t.Fatalf("Parse took over a second on %d bytes", len(data))
		}
		cfg, err := r.cfg, r.err
		if err == nil && len(cfg.Jobs) == 0 {
			t.Fatal("a config without jobs was accepted")
		}
		if err != nil && err.Error() == "" {
			t.Fatal("an error with no message")
		}
		if err != nil {
			requireUserWords(t, err.Error())
		}
	})
}
