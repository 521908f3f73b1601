package main

import (
	"path/filepath"
	"sort"
	"strings"

	"go.uber.org/zap"

	"github.com/lookerexport/exporter/jobs/config"
	"github.com/lookerexport/exporter/sinks/localfs"
)

// cleanupTemp removes the temp files that writers killed mid-write (a
// crash, kill -9, a power cut) left under each local job's root (see
// config.Job.LocalRoot), logging each one. It is safe while another
// exporter writes there: live writers hold a lock that it respects.
// Failures are logged, not fatal: a leftover temp file is hidden and
// harmless, and runs overwrite their own. Nothing is needed for GCS: an
// unfinished upload is not an object (see package sinks/gcs).
func cleanupTemp(cfg *config.Config, local *localfs.Sink, log *zap.Logger) {
	var roots []string
	for _, j := range cfg.Jobs {
		root, ok, err := j.LocalRoot()
		if err != nil {
			log.Warn("find the job's local root to clean up temp files", zap.String("job", j.Name), zap.Error(err))
			continue
		}
		if !ok {
			continue
		}
		if root == filepath.Dir(root) {
			log.Warn("not cleaning up temp files under the filesystem root; set the job's root: key", zap.String("job", j.Name))
			continue
		}
		roots = append(roots, root)
	}
	// Walk each tree once: drop roots inside another root.
	sort.Strings(roots)
	var kept []string
	for _, r := range roots {
		if n := len(kept); n > 0 && (r == kept[n-1] || strings.HasPrefix(r, kept[n-1]+string(filepath.Separator))) {
			continue
		}
		kept = append(kept, r)
	}
	for _, root := range kept {
		removed, err := local.CleanupTemp(root)
		if err != nil {
			log.Warn("clean up leftover temp files", zap.String("dir", root), zap.Error(err))
		}
		if len(removed) > 0 {
			log.Info("removed temp files left by interrupted writes", zap.String("dir", root), zap.Int("files", len(removed)))
		}
	}
}
