package logtail

import (
	"syscall"
	"unsafe"
)

// leaderExited blocks until the process pid has exited, leaving it unreaped (waitid with
// WNOWAIT), and reports whether that worked.
func leaderExited(pid int) bool {
	const pPID = 1     // P_PID of <sys/wait.h>
	var info [128]byte // siginfo_t; only waited for, never read
	for {
		_, _, errno := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(pid), uintptr(unsafe.Pointer(&info[0])), syscall.WEXITED|syscall.WNOWAIT, 0, 0)
		switch errno {
		case 0:
			return true
		case syscall.EINTR:
			continue
		default:
			return false
		}
	}
}
