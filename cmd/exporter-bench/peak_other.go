//go:build !linux

package main

import (
	"os/exec"
	"syscall"
)

// runPeak runs cmd and returns its getrusage maxrss, in KiB where the
// system counts so. Linux's runPeak (peak_linux.go) reads the child's own
// peak instead: there a vforked child's maxrss includes this process's.
func runPeak(cmd *exec.Cmd) (int64, error) {
	err := cmd.Run()
	if cmd.ProcessState == nil {
		return 0, err
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && ru != nil {
		return int64(ru.Maxrss), err
	}
	return 0, err
}
