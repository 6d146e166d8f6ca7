package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime/pprof"

	"github.com/smppd/smppd/internal/responder"
	"github.com/spf13/cobra"
)

type benchResponderOptions struct {
	Listen     string
	Receipts   bool
	DBPath     string
	CPUProfile string
}

func newBenchResponderCmd(g *globalOptions) *cobra.Command {
	opts := &benchResponderOptions{}
	cmd := &cobra.Command{
		Use:   "responder [--listen ADDR] [--receipts] [--db FILE]",
		Short: "Run the minimal SMPP responder that benchmarks compare smppd against",
		Long: `responder binds any system_id and password and answers every submit_sm at
once: the floor of what this machine can do with SMPP and no gateway logic.
--receipts sends a DELIVRD receipt per message that asks for one; --db stores
every message in a bbolt file before answering, one fsync per group of
messages. It prints the address it listens on and runs until interrupted.`,
		Example: `  # the in-memory floor, then the durable one with receipts
  smppd bench responder --listen 127.0.0.1:2776
  smppd bench responder --listen 127.0.0.1:2776 --receipts --db /tmp/floor.db

  # drive it like smppd
  smppd bench --addr 127.0.0.1:2776 --system-id any --password any --binds 4 --window 50`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			srv := &responder.Server{Receipts: opts.Receipts, Logger: slog.New(slog.NewTextHandler(g.Stderr, nil))}
			if opts.DBPath != "" {
				db, err := responder.OpenDB(opts.DBPath)
				if err != nil {
					return err
				}
				defer db.Close()
				srv.DB = db
			}
			if opts.CPUProfile != "" {
				pf, err := os.Create(opts.CPUProfile)
				if err != nil {
					return err
				}
				if err := pprof.StartCPUProfile(pf); err != nil {
					pf.Close()
					return err
				}
				defer func() { pprof.StopCPUProfile(); pf.Close() }()
			}
			l, err := net.Listen("tcp", opts.Listen)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.Stdout, "responder listening on %s\n", l.Addr())
			done := make(chan error, 1)
			go func() { done <- srv.Serve(l) }()
			select {
			case err = <-done:
			case <-cmd.Context().Done():
			}
			srv.Close()
			if err == nil {
				err = <-done
			}
			submits, receipts := srv.Stats()
			fmt.Fprintf(g.Stdout, "responder answered %d submit_sm, sent %d receipts\n", submits, receipts)
			if errors.Is(err, responder.ErrServerClosed) {
				return nil
			}
			return err
		},
	}
	cmd.Flags().StringVar(&opts.Listen, "listen", "127.0.0.1:2776", "`host:port` to listen on (port 0 picks one)")
	cmd.Flags().BoolVar(&opts.Receipts, "receipts", false, "send a receipt per message that asks for one")
	cmd.Flags().StringVar(&opts.DBPath, "db", "", "store messages in this bbolt `file` before answering (fsync per group)")
	cmd.Flags().StringVar(&opts.CPUProfile, "cpuprofile", "", "write the responder's CPU profile to this `file`")
	_ = cmd.Flags().MarkHidden("cpuprofile")
	return cmd
}
