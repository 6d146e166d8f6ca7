//go:build !unix

package pdu

import "time"

func processCPU() time.Duration { return 0 }
