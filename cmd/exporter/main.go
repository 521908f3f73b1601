// Command exporter runs Looker queries on a schedule and delivers the
// results, converted and compressed, to Google Cloud Storage or local files.
//
// main only wires: it turns signals into a context, builds the logger and
// the implementations named by the config, and hands them to package jobs.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP) // serve reloads its config
	ctx = withReloads(ctx, hup)
	code := Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
