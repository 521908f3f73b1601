// Package jobs runs export jobs: one run at a time (Runner) and on their
// cron schedules (Scheduler).
//
// A daemon's jobs live in a JobSet: a config reload is one JobSet.Reload,
// which every Reloader (the Scheduler, metrics, notify) follows, and which
// the status page reads. Everything that needs the time takes the one
// Clock.
//
// A run goes source → format → sink → state: the Looker result body is
// streamed through a decoder and an encoder (or copied as is when Looker
// already sends the target format) into an atomic sink writer, which
// commits only when everything succeeded. The run is recorded in the state
// store before it starts and when it ends; every log line of a run carries
// job, run_id and attempt.
//
// A Look or saved query runs with the job's filters, templates rendered
// for the run (config.Job.RenderRun). A dashboard job runs its data tiles
// one after another, each streamed to its own file, all announced by one
// manifest or none (dashboard.go); a pdf, png or jpg job copies Looker's
// render of its source (render.go).
package jobs
