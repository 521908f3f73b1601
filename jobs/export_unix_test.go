//go:build unix

package jobs

// ProcessCPU is processCPU, for the benchmarks of package jobs_test.
var ProcessCPU = processCPU
