package sinktest

import (
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
	"testing"

	"github.com/lookerexport/exporter/sinks"
)

// benchWrite is the size of one Write in Benchmark, about what an encoder
// hands down.
const benchWrite = 64 << 10

// Benchmark streams size bytes through one new Writer per iteration, at
// uri(i), in 64 KiB writes, and commits it. It reports throughput (MB/s,
// from b.SetBytes) and "peak-heap-MiB": the most heap (live objects and
// garbage not yet collected) seen during the writes, sampled every 16
// writes, for the whole process, so an in-process server's memory counts
// too. After each commit it calls remove(uri), outside the timing, so
// large runs do not fill the destination.
func Benchmark(b *testing.B, s sinks.Sink, uri func(i int) string, size int64, remove func(uri string)) {
	buf := make([]byte, 4<<20)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range buf {
		buf[i] = byte(r.Uint32())
	}
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak uint64
	observe := func() {
		metrics.Read(sample)
		peak = max(peak, sample[0].Value.Uint64())
	}
	runtime.GC()
	b.SetBytes(size)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		u := uri(i)
		i++
		w, err := s.Create(b.Context(), u, sinks.WriteOptions{ContentType: "application/octet-stream"})
		if err != nil {
			b.Fatal(err)
		}
		off := 0
		for n, writes := int64(0), 0; n < size; writes++ {
			chunk := buf[off : off+int(min(benchWrite, size-n))]
			if _, err := w.Write(chunk); err != nil {
				_ = w.Abort()
				b.Fatal(err)
			}
			n += int64(len(chunk))
			off = (off + len(chunk)) % (len(buf) - benchWrite)
			if writes%16 == 0 {
				observe()
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		observe()
		b.StopTimer()
		remove(u)
		b.StartTimer()
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
}
