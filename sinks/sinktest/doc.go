// Package sinktest is the conformance suite every sinks.Sink passes. An
// implementation's tests call Run with a Harness:
//
//	func TestConformance(t *testing.T) {
//		sinktest.Run(t, sinktest.Harness{New: ..., Read: ..., List: ...})
//	}
//
// The suite checks the contract in package sinks: content is visible byte
// for byte after Close and not before; Abort, a failed Close and a
// cancelled context leave nothing behind; the IfExists policies, including
// two concurrent writers racing for one name with IfExists=fail; empty
// (also under IfExists=fail) and multi-MiB objects; names with spaces,
// "=", "#", non-ASCII letters, emoji and decomposed accents, in file and
// directory names. The 2 GiB stream is a benchmark (see Benchmark and the
// implementations' 2 GiB benchmarks), not a test.
//
// Benchmark streams data through any sink and reports MB/s and peak heap.
package sinktest
