//go:build unix

package jobs

// VsDownload is vsDownload, for the benchmarks of package jobs_test.
type VsDownload = vsDownload
