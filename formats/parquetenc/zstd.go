package parquetenc

import (
	"fmt"
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go/format"
)

// zstdPages is the ZSTD page codec: one klauspost encoder per file at its
// fastest level, whose EncodeAll the two goroutines that write the columns
// call side by side (it keeps that many block encoders of its own).
// parquet-go's zstd codec takes an encoder from a sync.Pool for every
// page, and a pool is emptied by every garbage collection: each page then
// built a new encoder of several MiB, which made a 2M-row zstd export 2.3
// times slower than a snappy one and fed the collector (1,103 cycles
// against 8). Its windows are cut to the page buffer size: a page is one
// frame and never refers further back.
type zstdPages struct {
	enc *zstd.Encoder

	decOnce sync.Once
	dec     *zstd.Decoder
	decErr  error
}

func newZstdPages(pageBytes int) (*zstdPages, error) {
	window := zstd.MinWindowSize
	for window < pageBytes && window < zstd.MaxWindowSize {
		window *= 2
	}
	enc, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithEncoderConcurrency(2),
		zstd.WithWindowSize(window),
		zstd.WithZeroFrames(true),
		zstd.WithEncoderCRC(false),
		zstd.WithLowerEncoderMem(true), // a third of the bytes per page after a collection, as fast
	)
	if err != nil {
		return nil, fmt.Errorf("zstd encoder: %w", err)
	}
	return &zstdPages{enc: enc}, nil
}

func (*zstdPages) String() string { return "ZSTD" }

func (*zstdPages) CompressionCodec() format.CompressionCodec { return format.Zstd }

func (z *zstdPages) Encode(dst, src []byte) ([]byte, error) {
	return z.enc.EncodeAll(src, dst[:0]), nil
}

// Decode is for parquet-go's readers; the encoder never calls it.
func (z *zstdPages) Decode(dst, src []byte) ([]byte, error) {
	z.decOnce.Do(func() { z.dec, z.decErr = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1)) })
	if z.decErr != nil {
		return nil, z.decErr
	}
	return z.dec.DecodeAll(src, dst[:0])
}
