package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// runPeak runs cmd and returns the peak RSS of its process in KiB: its
// VmHWM, read while the process is stopped at its exit (ptrace's
// PTRACE_EVENT_EXIT, when its memory is still mapped).
//
// Not getrusage's maxrss: Go starts children with vfork (CLONE_VM), and
// the kernel records the peak RSS of the memory a process leaves at
// execve (exec_mmap) as that process's, so every child's maxrss is at
// least this process's own peak, the sandbox's buffers included. A
// 200-row run then measured 32 MiB where it peaks at 27.
func runPeak(cmd *exec.Cmd) (int64, error) {
	// The tracer is the thread that started the child: every ptrace call
	// and wait must come from it.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Ptrace = true // stops at its execve
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	peak, terr := tracePeak(cmd.Process.Pid)
	werr := cmd.Wait()
	if terr != nil {
		return 0, errors.Join(terr, werr)
	}
	return peak, werr
}

// tracePeak follows a child stopped at its execve until it stops at its
// exit, reads its VmHWM then, and lets it go. Signals that stop it on the
// way are delivered as they came.
func tracePeak(pid int) (int64, error) {
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
		return 0, fmt.Errorf("wait for the child's execve: %w", err)
	}
	if !ws.Stopped() {
		return 0, fmt.Errorf("the child did not stop at its execve (%v)", ws)
	}
	if err := syscall.PtraceSetOptions(pid, unix.PTRACE_O_TRACEEXIT|unix.PTRACE_O_EXITKILL); err != nil {
		return 0, fmt.Errorf("ptrace options: %w", err)
	}
	sig := 0
	for {
		if err := syscall.PtraceCont(pid, sig); err != nil {
			return 0, fmt.Errorf("ptrace continue: %w", err)
		}
		if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
			return 0, fmt.Errorf("wait for the child: %w", err)
		}
		if !ws.Stopped() { // gone without its exit stop (SIGKILL), and reaped
			return 0, fmt.Errorf("the child ended before its peak RSS was read (%v)", ws)
		}
		sig = 0
		if ws.StopSignal() == syscall.SIGTRAP && ws.TrapCause() == unix.PTRACE_EVENT_EXIT {
			peak, err := vmHWM(pid)
			if derr := syscall.PtraceDetach(pid); err == nil {
				err = derr
			}
			return peak, err
		}
		if ws.StopSignal() != syscall.SIGTRAP {
			sig = int(ws.StopSignal())
		}
	}
}

// vmHWM reads the peak RSS of process pid, in KiB, from its status.
func vmHWM(pid int) (int64, error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range bytes.Lines(status) {
		if v, ok := bytes.CutPrefix(line, []byte("VmHWM:")); ok {
			return strconv.ParseInt(string(bytes.Fields(v)[0]), 10, 64)
		}
	}
	return 0, errors.New("no VmHWM in /proc/" + strconv.Itoa(pid) + "/status")
}
