//go:build unix

package pdu

import (
	"syscall"
	"time"
)

// processCPU returns the user+system CPU time of the process so far. On a
// shared machine ns/op measures wall time, which other processes inflate;
// CPU time per op measures what the codec itself costs.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
