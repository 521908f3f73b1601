// Package shipbuild builds cmd/exporter the way the Dockerfile does, so
// that benchmarks measure the binary that ships: its memory at start
// depends on what is linked (gRPC's xDS modules cost 5 MiB of RSS per
// process), on cgo (libc's pages) and on stripping.
package shipbuild

import (
	"context"
	"os"
	"os/exec"
	"strings"
)

// Env and Flags are the Dockerfile's `go build` environment and flags,
// without its version stamp (-X) and output; deploy's
// TestShipBuildIsTheDockerfiles keeps them equal to the Dockerfile's.
var (
	Env   = []string{"CGO_ENABLED=0"}
	Flags = []string{"-trimpath", "-tags", "disable_grpc_modules", "-ldflags", "-s -w"}
)

// Command returns the go build that writes the exporter binary to out,
// run in the module's root directory root, with more build tags if any.
func Command(ctx context.Context, root, out string, tags ...string) *exec.Cmd {
	flags := append([]string(nil), Flags...)
	if len(tags) > 0 {
		for i, f := range flags {
			if f == "-tags" {
				flags[i+1] += "," + strings.Join(tags, ",")
			}
		}
	}
	args := append(append([]string{"build"}, flags...), "-o", out, "./cmd/exporter")
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), Env...)
	return cmd
}
