package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/lookerexport/exporter/jobs/metrics"
)

// version and revision are set at link time, as the Dockerfile does:
//
//	go build -ldflags "-X main.version=v1.2.3 -X main.revision=$(git rev-parse HEAD)" ./cmd/exporter
//
// Empty, they come from the binary's build info: the main module's version
// (a tag or pseudo-version with `go install ...@v1.2.3`) and the VCS
// revision Go stamps when it builds inside a git checkout.
var (
	version  = ""
	revision = ""
)

// buildInfo names the running build.
type buildInfo struct {
	Version   string // "dev" when nothing says otherwise
	Revision  string // "unknown" when nothing says otherwise
	Modified  bool   // built from a checkout with uncommitted changes
	GoVersion string
	Platform  string // GOOS/GOARCH
}

// readBuildInfo merges the link-time variables with the binary's build
// info; the link-time ones win.
func readBuildInfo() buildInfo {
	b := buildInfo{Version: version, Revision: revision, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if b.Version == "" && bi.Main.Version != "(devel)" {
			b.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if b.Revision == "" {
					b.Revision = s.Value
				}
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
	}
	if b.Version == "" {
		b.Version = "dev"
	}
	if b.Revision == "" {
		b.Revision = "unknown"
	}
	return b
}

// String is what `exporter version` and `exporter --version` print.
func (b buildInfo) String() string {
	rev := b.Revision
	if b.Modified {
		rev += " (modified: built with uncommitted changes)"
	}
	return fmt.Sprintf("exporter %s\nrevision: %s\ngo: %s %s\n", b.Version, rev, b.GoVersion, b.Platform)
}

// metrics is the build as exporter_build_info shows it.
func (b buildInfo) metrics() metrics.BuildInfo {
	return metrics.BuildInfo{Version: b.Version, Revision: b.Revision, GoVersion: b.GoVersion}
}
