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
	"strings"
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
	err = unknownCommandHint(err)
	// One line: the problem, then the hint after a semicolon.
	msg := "smppd: " + err.Error()
	var ue *usageError
	if errors.As(err, &ue) {
		if ue.hint != "" {
			msg += "; " + ue.hint
		}
		fmt.Fprintln(os.Stderr, msg)
		return exitUsage
	}
	fmt.Fprintln(os.Stderr, msg)
	if ctx.Err() != nil {
		return exitSignals
	}
	return exitError
}

// unknownCommandHint turns cobra's multi-line "unknown command" error into
// a usage error of one line and a hint.
func unknownCommandHint(err error) error {
	msg := err.Error()
	if !strings.HasPrefix(msg, "unknown command ") {
		return err
	}
	first, rest, _ := strings.Cut(msg, "\n")
	hint := "see 'smppd --help'"
	if _, sugg, ok := strings.Cut(rest, "Did you mean this?"); ok {
		if f := strings.Fields(sugg); len(f) > 0 {
			hint = "did you mean '" + f[0] + "'? (see 'smppd --help')"
		}
	}
	return withHint(errors.New(first), hint)
}
