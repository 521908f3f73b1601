package compress

import (
	"bytes"
	stdgzip "compress/gzip"
	"io"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/formats"
)

// closeTracker fails the test if the compressor closes the writer it was
// given.
type closeTracker struct {
	bytes.Buffer
	closed bool
}

func (c *closeTracker) Close() error { c.closed = true; return nil }

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	payload := []byte(strings.Repeat("orders_id,status\n1,complete\n2,\"pending, maybe\"\n", 20000))
	decoders := map[formats.Compression]func(io.Reader) (io.Reader, error){
		formats.None: func(r io.Reader) (io.Reader, error) { return r, nil },
		"":           func(r io.Reader) (io.Reader, error) { return r, nil },
		formats.Gzip: func(r io.Reader) (io.Reader, error) { return stdgzip.NewReader(r) },
		formats.Zstd: func(r io.Reader) (io.Reader, error) {
			d, err := zstd.NewReader(r)
			if err != nil {
				return nil, err
			}
			return d.IOReadCloser(), nil
		},
	}
	for codec, decode := range decoders {
		t.Run(string(codec), func(t *testing.T) {
			t.Parallel()
			for _, size := range []int{0, 1, len(payload)} {
				var out closeTracker
				w, err := NewWriter(&out, codec)
				require.NoError(t, err)
				// Write in uneven pieces, as encoders do.
				for p := payload[:size]; len(p) > 0; {
					n := min(len(p), 4093)
					_, err := w.Write(p[:n])
					require.NoError(t, err)
					p = p[n:]
				}
				require.NoError(t, w.Close())
				require.False(t, out.closed, "Close must not close the destination")
				if codec == formats.Gzip || codec == formats.Zstd {
					require.NotZero(t, out.Len(), "a finished stream has a header and trailer even when empty")
					if size == len(payload) {
						require.Less(t, out.Len(), size/10, "it compresses")
					}
				}
				r, err := decode(bytes.NewReader(out.Bytes()))
				require.NoError(t, err)
				got, err := io.ReadAll(r)
				require.NoError(t, err)
				require.Equal(t, payload[:size], got)
			}
		})
	}
}

func TestUnknownCodec(t *testing.T) {
	t.Parallel()
	_, err := NewWriter(io.Discard, formats.Snappy)
	require.ErrorContains(t, err, `unknown compression "snappy"`)
	_, err = NewWriter(io.Discard, "brotli")
	require.ErrorContains(t, err, "use none, gzip or zstd")
}

func TestNames(t *testing.T) {
	t.Parallel()
	require.Equal(t, ".gz", Extension(formats.Gzip))
	require.Equal(t, ".zst", Extension(formats.Zstd))
	require.Equal(t, "", Extension(formats.None))
	require.Equal(t, "application/gzip", ContentType(formats.Gzip))
	require.Equal(t, "application/zstd", ContentType(formats.Zstd))
	require.Equal(t, "", ContentType(formats.None))
}
