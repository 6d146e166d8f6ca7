// Command smppd is an SMPP 3.4 gateway: high-volume senders bind to it with
// their own SMPP clients, authenticated by API tokens that operators issue
// with `smppd token create`.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes. Scripts can tell a usage mistake from a runtime failure.
const (
	exitOK      = 0
	exitError   = 1
	exitUsage   = 2
	exitSignals = 130
)

func main() {
	os.Exit(run())
}

func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	root := newRootCmd(os.Stdout, os.Stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(os.Stderr, "smppd: "+err.Error())
	var ue *usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	if ctx.Err() != nil {
		return exitSignals
	}
	return exitError
}
