// Command exporter runs Looker queries on a schedule and delivers the
// results, converted and compressed, to Google Cloud Storage or local files.
//
// main only wires: it turns signals into a context, builds the logger and
// the implementations named by the config, and hands them to package jobs.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	releaseStartupPages()
	setGCPercent(gcPercent)
	os.Exit(mainWithSignals(os.Args[1:], os.Stdout, os.Stderr))
}

// mainWithSignals is main without the exit: SIGINT and SIGTERM cancel
// the command's context, SIGHUP makes serve reload its config.
func mainWithSignals(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP) // serve reloads its config
	defer signal.Stop(hup)
	return Main(withReloads(ctx, hup), args, stdout, stderr)
}
