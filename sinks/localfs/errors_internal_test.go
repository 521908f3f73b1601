package localfs

import (
	"fmt"
	"io/fs"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// The real conditions (a full disk, a quota, a read-only mount) cannot be
// provoked without privileges or a special filesystem, so check the
// wording on the errors the os package returns for them.
func TestFileErrorHints(t *testing.T) {
	t.Parallel()
	cases := []struct {
		errno syscall.Errno
		want  string
	}{
		{syscall.ENOSPC, "the filesystem holding /data/out is full: free space there or choose another destination"},
		{syscall.EDQUOT, "over its disk quota on the filesystem holding /data/out"},
		{syscall.EROFS, "the filesystem holding /data/out is read-only"},
		{syscall.EIO, ""},
	}
	for _, c := range cases {
		t.Run(c.errno.Error(), func(t *testing.T) {
			t.Parallel()
			osErr := &fs.PathError{Op: "write", Path: "/data/out/.x.csv.exporter-tmp-0123456789abcdef", Err: c.errno}
			err := fileError("write temp file for", "/data/out/x.csv", osErr)
			require.ErrorIs(t, err, c.errno)
			prefix := fmt.Sprintf("localfs: write temp file for /data/out/x.csv: %v", osErr)
			if c.want == "" {
				require.EqualError(t, err, prefix)
				return
			}
			require.ErrorContains(t, err, prefix+" (")
			require.ErrorContains(t, err, c.want)
		})
	}
}
