//go:build pprof

package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
)

// A build with the pprof tag (BenchmarkBurst builds one when
// EXPORTER_BURST_PPROF is set) serves /debug/pprof/ on a loopback port of
// its own and, when EXPORTER_PPROF_DIR is set, writes that address to
// DIR/pprof.PID. Release builds have none of it.
func init() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "pprof:", err)
		return
	}
	if dir := os.Getenv("EXPORTER_PPROF_DIR"); dir != "" {
		_ = os.WriteFile(filepath.Join(dir, fmt.Sprintf("pprof.%d", os.Getpid())), []byte(ln.Addr().String()), 0o600)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	go func() { _ = http.Serve(ln, mux) }()
}
