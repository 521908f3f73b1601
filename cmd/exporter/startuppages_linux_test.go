package main

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestExeReadOnlyRanges(t *testing.T) {
	maps := []byte(`00400000-01525000 r-xp 00000000 08:01 123 /usr/bin/exporter
01525000-0293f000 r--p 01125000 08:01 123 /usr/bin/exporter
0293f000-02a77000 rw-p 0253f000 08:01 123 /usr/bin/exporter
02a77000-04acf000 rw-p 00000000 00:00 0
7f0000000000-7f0000001000 r--p 00000000 08:01 456 /usr/lib/libc.so.6
7f0000001000-7f0000002000 r--s 00000000 08:01 123 /usr/bin/exporter
7f0000002000-7f0000003000 r-xp 00000000 08:01 123 /usr/bin/exporter (deleted)
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0 [stack]
`)
	require.Equal(t, [][2]uintptr{{0x400000, 0x1525000}, {0x1525000, 0x293f000}},
		exeReadOnlyRanges(maps, "/usr/bin/exporter"))
	require.Empty(t, exeReadOnlyRanges(maps, "/usr/bin/other"))
}

// TestReleaseStartupPages releases this test binary's code and read-only
// data: what stays resident of them is what ran since, a small part.
func TestReleaseStartupPages(t *testing.T) {
	before := exeResidentKiB(t)
	require.Greater(t, before, 1024, "the test binary's code should be resident after its init")
	releaseStartupPages()
	after := exeResidentKiB(t)
	require.Less(t, after, before/2, "resident KiB of the executable's read-only mappings: %d before, %d after", before, after)
}

// exeResidentKiB is the resident KiB of this executable's read-only
// mappings, from /proc/self/smaps.
func exeResidentKiB(t *testing.T) int {
	t.Helper()
	exe, err := os.Readlink("/proc/self/exe")
	require.NoError(t, err)
	smaps, err := os.ReadFile("/proc/self/smaps")
	require.NoError(t, err)
	total, in := 0, false
	sc := bufio.NewScanner(bytes.NewReader(smaps))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 0 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":") {
			in = len(f) == 6 && f[5] == exe && !strings.Contains(f[1], "w")
			continue
		}
		if in && len(f) >= 2 && f[0] == "Rss:" {
			kib, err := strconv.Atoi(f[1])
			require.NoError(t, err)
			total += kib
		}
	}
	require.NoError(t, sc.Err())
	return total
}
