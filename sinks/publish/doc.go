// Package publish turns one export run into a set of files that readers
// can trust: the data files (one, or several "parts"), then a manifest
// listing them with their sizes, row counts and checksums, then an empty
// _SUCCESS marker. It sits on top of any sinks.Sink and adds no
// atomicity of its own beyond what the sink gives per object; what it adds
// is the order of commits and the clean-up on failure.
//
// # Names
//
// A run's destination URI (the rendered template) names its only data
// file, unless the run is split (Options.Split); then the files are
// numbered parts named after it: the suffix "-part-NNNNN" (five digits,
// from 00000, more digits past 99999) goes before the first "." of the
// file name, so
//
//	gs://b/orders/dt=2026-01-02/orders.csv.gz -> .../orders-part-00000.csv.gz, orders-part-00001.csv.gz, ...
//	/data/orders.parquet                      -> /data/orders-part-00000.parquet, ...
//	/data/orders                              -> /data/orders-part-00000, ...
//
// A split run uses part names even when it produces a single part, so a
// reader's glob does not depend on the size of the result.
//
// The manifest is "_manifest.json" and the marker "_SUCCESS" (Spark and
// Hadoop's convention), both in the directory of the destination: they
// describe that directory, so each run should have its own directory
// (a partition such as dt={{ date "2006-01-02" }}); two jobs must not share
// one.
//
// # Order of commits
//
//  1. Begin: with IfExists overwrite, remove _SUCCESS and then
//     _manifest.json of an earlier run in the directory first, so that no
//     reader trusts a directory whose files are being replaced (with fail
//     or skip nothing is replaced, so the markers stay). A failure here
//     fails the run before any data is written.
//  2. Each data file commits (atomically, by the sink) as it is finished.
//  3. Commit writes _manifest.json, then _SUCCESS.
//
// A held run (Options.Hold: a run with a send condition, which decides
// whether to publish only after its last row) changes this order so that a
// run that does not publish never touches the destination: step 1 waits
// for Commit, and in step 2 each file is only finished; Commit then
// withdraws the markers, commits the files in order, and writes the
// markers. Until then an earlier run's output in the same place stays as
// it was, and Abort discards the held files without a trace.
//
// A reader that sees _SUCCESS, or the manifest, can trust every file the
// manifest lists: they were all committed before it, with the sizes and
// checksums it states.
//
// # Failure
//
// If the run fails at any point, Abort discards the file being written,
// removes the manifest if it was already committed (it never is unless
// only _SUCCESS failed), and then removes the data files this run
// committed, best-effort: they are never announced (no _SUCCESS, no
// manifest), and a file is never removed while a manifest listing it may
// still be visible. Files that could not be removed are logged and
// returned in Abort's error; the next successful run of the same
// (job, scheduled time) overwrites them.
//
// Stale parts are not cleaned: if an earlier run of the same partition
// wrote more parts than this one, the extra ones stay in the directory but
// are not in the manifest. Readers should read the files the manifest
// lists rather than glob the directory.
//
// # Checksums
//
// Every data file's CRC32C (Castagnoli, as GCS computes it) and SHA-256
// are computed while it streams, from exactly the bytes handed to the
// sink, and stored in the manifest in lower-case hex.
// "gsutil hash -h" and "sha256sum" print the same digests.
package publish
