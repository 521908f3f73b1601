package sinktest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/sinks"
)

// Harness connects the suite to one implementation.
type Harness struct {
	// New returns a sink and a base URI (no trailing "/") under which the
	// suite creates its objects as base + "/" + name. Each call must give
	// a namespace no other call shares, and it must start empty. New is
	// called once per subtest, and subtests run in parallel.
	New func(t *testing.T) (sink sinks.Sink, base string)
	// Read returns the committed content at uri and true, or false if no
	// object exists there. It fails t on other errors.
	Read func(t *testing.T, uri string) (data []byte, ok bool)
	// List returns the URIs of everything stored under base, including
	// anything an implementation keeps while writing (temp files,
	// partial objects), so that the suite can check nothing is left
	// behind. Order does not matter.
	List func(t *testing.T, base string) []string
}

// Run runs the conformance suite as subtests of t.
func Run(t *testing.T, h Harness) {
	require.NotNil(t, h.New, "Harness.New")
	require.NotNil(t, h.Read, "Harness.Read")
	require.NotNil(t, h.List, "Harness.List")
	cases := []struct {
		name string
		run  func(t *testing.T, h Harness)
	}{
		{"CommitMakesContentVisible", testCommit},
		{"NothingVisibleBeforeClose", testNothingBeforeClose},
		{"AbortLeavesNothing", testAbort},
		{"AbortBeforeAnyWrite", testAbortBeforeWrite},
		{"HeldWritersAbortLeavesNothing", testHeldAbort},
		{"HeldWritersCommitInOrder", testHeldCommit},
		{"ContextCancelledMidWrite", testCancelMidWrite},
		{"ContextCancelledBeforeClose", testCancelBeforeClose},
		{"AbortAfterCloseIsNoop", testAbortAfterClose},
		{"WriteAfterCloseFails", testWriteAfterClose},
		{"CloseAfterAbortCommitsNothing", testCloseAfterAbort},
		{"ConcurrentWritersDifferentNames", testConcurrentNames},
		{"IfExists", testIfExists},
		{"IfExistsOnNewObject", testIfExistsNew},
		{"ConcurrentFailWritersOneWins", testConcurrentFail},
		{"EmptyObject", testEmpty},
		{"LargeObjectSmallWrites", testLarge},
		{"OddNames", testOddNames},
		{"OddNestedNames", testOddNestedNames},
		{"EmptyObjectIfExistsFail", testEmptyFail},
		{"NestedName", testNested},
		{"CheckLeavesNothing", testCheck},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t, h)
		})
	}
}

// payload returns n deterministic pseudo-random bytes.
func payload(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n+8)
	for i := 0; i < n; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	return b[:n:n]
}

// put writes data to uri and commits it, failing t on any error.
func put(t *testing.T, s sinks.Sink, uri string, data []byte, opts sinks.WriteOptions) {
	t.Helper()
	w, err := s.Create(t.Context(), uri, opts)
	require.NoError(t, err, "create %s", uri)
	defer func() { require.NoError(t, w.Abort()) }()
	_, err = w.Write(data)
	require.NoError(t, err, "write %s", uri)
	require.NoError(t, w.Close(), "close %s", uri)
}

func requireContent(t *testing.T, h Harness, uri string, want []byte) {
	t.Helper()
	got, ok := h.Read(t, uri)
	require.True(t, ok, "%s does not exist", uri)
	require.True(t, bytes.Equal(want, got), "%s: content differs: got %d bytes, want %d", uri, len(got), len(want))
}

func requireAbsent(t *testing.T, h Harness, uri string) {
	t.Helper()
	_, ok := h.Read(t, uri)
	require.False(t, ok, "%s exists", uri)
}

func requireEmpty(t *testing.T, h Harness, base string) {
	t.Helper()
	require.Empty(t, h.List(t, base), "left behind under %s", base)
}

func testCommit(t *testing.T, h Harness) {
	s, base := h.New(t)
	uri := base + "/out.csv"
	data := []byte("id,name\n1,alice\n2,bob\n")
	w, err := s.Create(t.Context(), uri, sinks.WriteOptions{ContentType: "text/csv"})
	require.NoError(t, err)
	defer func() { require.NoError(t, w.Abort()) }()
	require.Equal(t, uri, w.URI())
	for _, line := range bytes.SplitAfter(data, []byte("\n")) {
		n, err := w.Write(line)
		require.NoError(t, err)
		require.Equal(t, len(line), n)
	}
	require.NoError(t, w.Close())
	requireContent(t, h, uri, data)
	require.Equal(t, []string{uri}, h.List(t, base))
}

func testNothingBeforeClose(t *testing.T, h Harness) {
	s, base := h.New(t)
	uri := base + "/pending.csv"
	w, err := s.Create(t.Context(), uri, sinks.WriteOptions{})
	require.NoError(t, err)
	defer func() { require.NoError(t, w.Abort()) }()
	// Enough to make a buffering implementation send some of it.
	data := payload(1, 3<<20+17)
	for chunk := range slices.Chunk(data, 64<<10) {
		_, err = w.Write(chunk)
		require.NoError(t, err)
	}
	requireAbsent(t, h, uri)
	require.NotContains(t, h.List(t, base), uri)
	require.NoError(t, w.Close())
	requireContent(t, h, uri, data)
}

func testAbort(t *testing.T, h Harness) {
	s, base := h.New(t)
	uri := base + "/aborted.csv"
	w, err := s.Create(t.Context(), uri, sinks.WriteOptions{})
	require.NoError(t, err)
	_, err = w.Write(payload(2, 1<<20))
	require.NoError(t, err)
	require.NoError(t, w.Abort())
	require.NoError(t, w.Abort(), "second Abort")
	requireAbsent(t, h, uri)
	requireEmpty(t, h, base)
}

// heldWriters opens n writers at once and writes each in full without
// closing it, as a run held for its send condition does with its parts
// (publish.Options.Hold).
func heldWriters(t *testing.T, s sinks.Sink, base string, n int) ([]sinks.Writer, [][]byte) {
	t.Helper()
	var ws []sinks.Writer
	var data [][]byte
	for i := range n {
		w, err := s.Create(t.Context(), fmt.Sprintf("%s/held-%d.csv", base, i), sinks.WriteOptions{})
		require.NoError(t, err)
		ws = append(ws, w)
		data = append(data, payload(uint64(40+i), 256<<10+i))
	}
	for i, w := range ws {
		_, err := w.Write(data[i])
		require.NoError(t, err)
	}
	return ws, data
}

func testHeldAbort(t *testing.T, h Harness) {
	s, base := h.New(t)
	ws, _ := heldWriters(t, s, base, 3)
	for i, w := range ws {
		requireAbsent(t, h, w.URI())
		require.NoError(t, w.Abort(), "writer %d", i)
	}
	requireEmpty(t, h, base)
}

func testHeldCommit(t *testing.T, h Harness) {
	s, base := h.New(t)
	ws, data := heldWriters(t, s, base, 3)
	for i, w := range ws {
		for _, later := range ws[i:] {
			requireAbsent(t, h, later.URI())
		}
		require.NoError(t, w.Close(), "writer %d", i)
		got, ok := h.Read(t, w.URI())
		require.True(t, ok)
		require.True(t, bytes.Equal(data[i], got), "writer %d's content", i)
	}
}

func testAbortBeforeWrite(t *testing.T, h Harness) {
	s, base := h.New(t)
	uri := base + "/never-written.csv"
	w, err := s.Create(t.Context(), uri, sinks.WriteOptions{})
	require.NoError(t, err)
	require.NoError(t, w.Abort())
	requireAbsent(t, h, uri)
	requireEmpty(t, h, base)
}

func testCancelMidWrite(t *testing.T, h Harness) {
	s, base := h.New(t)
	uri := base + "/cancelled.csv"
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	w, err := s.Create(ctx, uri, sinks.WriteOptions{})
	require.NoError(t, err)
	defer func() { require.NoError(t, w.Abort()) }()
	_, err = w.Write(payload(3, 1<<20))
	require.NoError(t, err)
	cancel()
	_, err = w.Write([]byte("more"))
	require.ErrorIs(t, err, context.Canceled, "Write after cancel")
	err = w.Close()
	require.ErrorIs(t, err, context.Canceled, "Close after cancel")
	require.NoError(t, w.Abort())
	requireAbsent(t, h, uri)
	requireEmpty(t, h, base)
}

func testCancelBeforeClose(t *testing.T, h Harness) {
	s, base := h.New(t)
	uri := base + "/cancelled-before-close.csv"
	ctx, cancel := context.WithCancelCause(t.Context())
	defer cancel(nil)
	w, err := s.Create(ctx, uri, sinks.WriteOptions{})
	require.NoError(t, err)
	defer func() { require.NoError(t, w.Abort()) }()
	_, err = w.Write([]byte("all the data"))
	require.NoError(t, err)
	shutdown := errors.New("shutting down")
	cancel(shutdown)
	err = w.Close()
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorIs(t, err, shutdown, "Close keeps the cancellation cause")
	requireAbsent(t, h, uri)
	requireEmpty(t, h, base)
}

func testAbortAfterClose(t *testing.T, h Harness) {
	s, base := h.New(t)
	uri := base + "/kept.csv"
	data := []byte("kept\n")
	w, err := s.Create(t.Context(), uri, sinks.WriteOptions{})
	require.NoError(t, err)
	_, err = w.Write(data)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	require.NoError(t, w.Abort())
	require.NoError(t, w.Abort())
	requireContent(t, h, uri, data)
}

func testWriteAfterClose(t *testing.T, h Harness) {
	s, base := h.New(t)
	uri := base + "/closed.csv"
	w, err := s.Create(t.Context(), uri, sinks.WriteOptions{})
	require.NoError(t, err)
	_, err = w.Write([]byte("a"))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	_, err = w.Write([]byte("b"))
	require.Error(t, err, "Write after Close")
	require.Error(t, w.Close(), "second Close")
	requireContent(t, h, uri, []byte("a"))
}

func testCloseAfterAbort(t *testing.T, h Harness) {
	s, base := h.New(t)
	uri := base + "/aborted-then-closed.csv"
	w, err := s.Create(t.Context(), uri, sinks.WriteOptions{})
	require.NoError(t, err)
	_, err = w.Write([]byte("a"))
	require.NoError(t, err)
	require.NoError(t, w.Abort())
	require.Error(t, w.Close(), "Close after Abort")
	requireAbsent(t, h, uri)
	requireEmpty(t, h, base)
}

func testConcurrentNames(t *testing.T, h Harness) {
	s, base := h.New(t)
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = func() error {
				uri := fmt.Sprintf("%s/part-%02d.csv", base, i)
				w, err := s.Create(t.Context(), uri, sinks.WriteOptions{})
				if err != nil {
					return err
				}
				defer w.Abort() //nolint:errcheck // no-op after a successful Close
				for chunk := range slices.Chunk(payload(uint64(100+i), 300<<10), 4096) {
					if _, err := w.Write(chunk); err != nil {
						return err
					}
				}
				return w.Close()
			}()
		})
	}
	wg.Wait()
	var want []string
	for i := range n {
		require.NoError(t, errs[i], "writer %d", i)
		uri := fmt.Sprintf("%s/part-%02d.csv", base, i)
		want = append(want, uri)
		requireContent(t, h, uri, payload(uint64(100+i), 300<<10))
	}
	require.ElementsMatch(t, want, h.List(t, base))
}

// createOrClose writes data under the policy and returns the first error
// from Create, Write or Close. The contract lets a sink report an existing
// object at Create or Close; a remote one may learn it while uploading,
// in a Write.
func createOrClose(t *testing.T, s sinks.Sink, uri string, data []byte, p sinks.IfExists) error {
	t.Helper()
	w, err := s.Create(t.Context(), uri, sinks.WriteOptions{IfExists: p})
	if err != nil {
		return err
	}
	defer func() { require.NoError(t, w.Abort()) }()
	if _, err := w.Write(data); err != nil {
		return err
	}
	return w.Close()
}

func testIfExists(t *testing.T, h Harness) {
	cases := []struct {
		policy  sinks.IfExists
		wantErr error
		replace bool
	}{
		{"", nil, true},
		{sinks.Overwrite, nil, true},
		{sinks.Fail, sinks.ErrExists, false},
		{sinks.Skip, sinks.ErrSkipped, false},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("policy=%q", c.policy), func(t *testing.T) {
			t.Parallel()
			s, base := h.New(t)
			uri := base + "/existing.csv"
			old, ours := []byte("old content\n"), []byte("new content, longer\n")
			put(t, s, uri, old, sinks.WriteOptions{})
			err := createOrClose(t, s, uri, ours, c.policy)
			if c.wantErr != nil {
				require.ErrorIs(t, err, c.wantErr)
				require.False(t, sinks.Retryable(err), "an existing object is not retryable")
				requireContent(t, h, uri, old)
			} else {
				require.NoError(t, err)
				requireContent(t, h, uri, ours)
			}
			require.Equal(t, []string{uri}, h.List(t, base))
		})
	}
}

func testIfExistsNew(t *testing.T, h Harness) {
	for _, p := range []sinks.IfExists{sinks.Fail, sinks.Skip} {
		t.Run(string(p), func(t *testing.T) {
			t.Parallel()
			s, base := h.New(t)
			uri := base + "/fresh.csv"
			require.NoError(t, createOrClose(t, s, uri, []byte("x"), p))
			requireContent(t, h, uri, []byte("x"))
		})
	}
}

func testConcurrentFail(t *testing.T, h Harness) {
	s, base := h.New(t)
	uri := base + "/contested.csv"
	const n = 2
	ws := make([]sinks.Writer, n)
	datas := make([][]byte, n)
	for i := range n {
		w, err := s.Create(t.Context(), uri, sinks.WriteOptions{IfExists: sinks.Fail})
		require.NoError(t, err, "writer %d", i)
		defer func() { require.NoError(t, w.Abort()) }()
		datas[i] = payload(uint64(200+i), 100<<10+i)
		_, err = w.Write(datas[i])
		require.NoError(t, err, "writer %d: nothing is committed yet, so nothing exists", i)
		ws[i] = w
	}
	start := make(chan struct{})
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = ws[i].Close()
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		if err == nil {
			require.Equal(t, -1, winner, "both writers committed")
			winner = i
			continue
		}
		require.ErrorIs(t, err, sinks.ErrExists, "writer %d", i)
	}
	require.NotEqual(t, -1, winner, "no writer committed: %v", errs)
	requireContent(t, h, uri, datas[winner])
	require.Equal(t, []string{uri}, h.List(t, base))
}

func testEmpty(t *testing.T, h Harness) {
	s, base := h.New(t)
	uri := base + "/empty.csv"
	w, err := s.Create(t.Context(), uri, sinks.WriteOptions{})
	require.NoError(t, err)
	defer func() { require.NoError(t, w.Abort()) }()
	require.NoError(t, w.Close())
	requireContent(t, h, uri, []byte{})
}

func testLarge(t *testing.T, h Harness) {
	s, base := h.New(t)
	uri := base + "/large.bin"
	data := payload(4, 5<<20+12345)
	w, err := s.Create(t.Context(), uri, sinks.WriteOptions{ContentType: "application/octet-stream"})
	require.NoError(t, err)
	defer func() { require.NoError(t, w.Abort()) }()
	// Uneven small writes, as an encoder makes them.
	for rest := data; len(rest) > 0; {
		n := min(len(rest), 1000+len(rest)%537)
		m, err := w.Write(rest[:n])
		require.NoError(t, err)
		require.Equal(t, n, m)
		rest = rest[n:]
	}
	require.NoError(t, w.Close())
	requireContent(t, h, uri, data)
}

func testOddNames(t *testing.T, h Harness) {
	s, base := h.New(t)
	names := []string{
		"with space.csv",
		"key=value.csv",
		"über-ümlaut.csv",
		"hash#1.csv",
		"all of it ü =#%20 +&?.csv",
		"日本語.jsonl",
	}
	var want []string
	for i, name := range names {
		uri := base + "/" + name
		put(t, s, uri, []byte(fmt.Sprintf("%d:%s\n", i, name)), sinks.WriteOptions{})
		want = append(want, uri)
	}
	for i, name := range names {
		requireContent(t, h, base+"/"+name, []byte(fmt.Sprintf("%d:%s\n", i, name)))
	}
	require.ElementsMatch(t, want, h.List(t, base))
}

func testNested(t *testing.T, h Harness) {
	s, base := h.New(t)
	uri := base + "/dt=2024-01-02/job=daily sales/part-0.csv"
	w, err := s.Create(t.Context(), uri, sinks.WriteOptions{})
	require.NoError(t, err)
	defer func() { require.NoError(t, w.Abort()) }()
	require.Equal(t, uri, w.URI())
	_, err = w.Write([]byte("nested\n"))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	requireContent(t, h, uri, []byte("nested\n"))
	require.Equal(t, []string{uri}, h.List(t, base))
}

// testOddNestedNames: non-ASCII, emoji, a decomposed accent (NFD, kept
// as is, not normalised), spaces and "=" in directory names as well.
func testOddNestedNames(t *testing.T, h Harness) {
	s, base := h.New(t)
	names := []string{
		"dt=2026-01-02/région=Île-de-France/😀 données.csv",
		"dt=2026-01-02/re\u0301gion=nfd/x.csv",
		"a b/c=d/e#f/g h.jsonl",
	}
	var want []string
	for i, name := range names {
		uri := base + "/" + name
		put(t, s, uri, []byte(fmt.Sprint(i)), sinks.WriteOptions{})
		want = append(want, uri)
	}
	for i, name := range names {
		requireContent(t, h, base+"/"+name, []byte(fmt.Sprint(i)))
	}
	require.ElementsMatch(t, want, h.List(t, base))
}

// testEmptyFail: a 0-byte object commits under IfExists=fail, and a second
// one is refused, leaving the first.
func testEmptyFail(t *testing.T, h Harness) {
	s, base := h.New(t)
	uri := base + "/empty-once.csv"
	require.NoError(t, createOrClose(t, s, uri, nil, sinks.Fail))
	requireContent(t, h, uri, []byte{})
	require.ErrorIs(t, createOrClose(t, s, uri, nil, sinks.Fail), sinks.ErrExists)
	requireContent(t, h, uri, []byte{})
	require.Equal(t, []string{uri}, h.List(t, base))
}

// testCheck: a sinks.Checker passes a writable destination, new nested
// "folders" included, and leaves nothing behind (its probe is gone).
func testCheck(t *testing.T, h Harness) {
	s, base := h.New(t)
	c, ok := s.(sinks.Checker)
	if !ok {
		t.Skip("the sink does not implement sinks.Checker")
	}
	require.NoError(t, c.Check(t.Context(), base+"/out.csv"))
	require.NoError(t, c.Check(t.Context(), base+"/new/nested/out.csv"))
	requireEmpty(t, h, base)
	put(t, s, base+"/kept.csv", []byte("a,b\n"), sinks.WriteOptions{})
	require.NoError(t, c.Check(t.Context(), base+"/kept.csv"))
	requireContent(t, h, base+"/kept.csv", []byte("a,b\n"))
	require.Len(t, h.List(t, base), 1, "only the object written")
}
