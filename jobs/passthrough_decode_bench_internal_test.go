//go:build unix

package jobs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"os"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/formats"
	"github.com/lookerexport/exporter/formats/lookerdec"
)

// reportCPU reports the process's CPU time per op until the returned
// func is called: the validating side competes for the cores with the
// copy, the compressor and (in BenchmarkPassthrough) the sandbox, so its
// CPU time, not its wall time, is what it costs a run.
func reportCPU(b *testing.B) func() {
	start := processCPU(b)
	return func() {
		b.ReportMetric(float64((processCPU(b)-start).Microseconds())/1e3/float64(b.N), "cpu_ms/op")
	}
}

// BenchmarkPassthroughDecode is the validating side of a passthrough
// alone, on the sandbox Look's csv held in memory: decodePassthrough
// (decode, count, digest), and its parts for comparison.
//
//	go test ./jobs -run '^$' -bench PassthroughDecode
func BenchmarkPassthroughDecode(b *testing.B) {
	data, err := os.ReadFile(wireBody(b, 200_000))
	require.NoError(b, err)
	b.Run("decodePassthrough", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		defer reportCPU(b)()
		for b.Loop() {
			var rows atomic.Int64
			res, err := decodePassthrough(context.Background(), bytes.NewReader(data), nil, &rows)
			require.NoError(b, err)
			_ = res.digest.Sum()
		}
	})
	b.Run("parse", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		defer reportCPU(b)()
		for b.Loop() {
			dec, err := lookerdec.NewCSV(bytes.NewReader(data))
			require.NoError(b, err)
			for {
				_, err := dec.Next()
				if err != nil {
					require.ErrorIs(b, err, io.EOF)
					break
				}
			}
		}
	})
	b.Run("parse+digest", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		defer reportCPU(b)()
		for b.Loop() {
			dec, err := lookerdec.NewCSV(bytes.NewReader(data))
			require.NoError(b, err)
			d := formats.NewDigest(dec.Schema())
			for {
				row, err := dec.Next()
				if err != nil {
					require.ErrorIs(b, err, io.EOF)
					break
				}
				d.Row(row)
			}
			_ = d.Sum()
		}
	})
	b.Run("sha256", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		defer reportCPU(b)()
		for b.Loop() {
			_ = sha256.Sum256(data)
		}
	})
}
