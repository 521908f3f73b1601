package lookerapi_test

import (
	"context"
	"io"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/lookerexport/exporter/lookerapi"
	"github.com/lookerexport/exporter/lookerapi/lookertest"
)

// BenchmarkRunLook5M streams 5M csv rows from the in-process server through
// the client and reports rows/s and the peak heap in use (server and client
// share the process, so this bounds both). Run with -benchtime=1x.
func BenchmarkRunLook5M(b *testing.B) {
	const rows = 5_000_000
	srv := lookertest.NewServer(lookertest.Options{Rows: rows})
	defer srv.Close()
	c, err := lookerapi.New(lookerapi.Config{BaseURL: srv.URL(), ClientID: srv.ClientID(), ClientSecret: srv.ClientSecret()}, zap.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(context.Background())

	runtime.GC()
	peak := sampleHeap(b)
	b.ResetTimer()
	var total int64
	start := time.Now()
	for i := 0; i < b.N; i++ {
		res, err := c.RunLook(context.Background(), lookertest.LookID, lookerapi.RunOptions{ResultFormat: "csv"})
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if err != nil {
			b.Fatal(err)
		}
		total += n
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.SetBytes(total / int64(b.N))
	b.ReportMetric(float64(rows)*float64(b.N)/elapsed.Seconds(), "rows/s")
	peakBytes := peak()
	b.ReportMetric(float64(peakBytes)/(1<<20), "peak_heap_MiB")
	if peakBytes > 32<<20 {
		b.Fatalf("peak heap %.1f MiB is over the 32 MiB bar: the result is being buffered", float64(peakBytes)/(1<<20))
	}
}

// sampleHeap samples the heap bytes in use every millisecond until the
// returned function is called; that function returns the peak.
func sampleHeap(b *testing.B) func() uint64 {
	b.Helper()
	var (
		mu   sync.Mutex
		max  uint64
		stop = make(chan struct{})
		done = make(chan struct{})
	)
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	go func() {
		defer close(done)
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			v := s[0].Value.Uint64()
			mu.Lock()
			max = maxU(max, v)
			mu.Unlock()
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	var once sync.Once
	return func() uint64 {
		once.Do(func() { close(stop); <-done })
		mu.Lock()
		defer mu.Unlock()
		return max
	}
}

func maxU(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}
