package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/smppd/smppd/internal/admin"
)

// daemonClient reaches the running daemon's admin socket; errNoDaemon
// explains what to do when none runs.
func daemonClient(g *globalOptions) *admin.Client {
	return admin.NewClient(filepath.Join(g.DataDir, admin.SocketFile))
}

func daemonErr(g *globalOptions, err error) error {
	if errors.Is(err, admin.ErrNoDaemon) {
		return fmt.Errorf("no smppd daemon answers on %s (is 'smppd serve --data-dir %s' running?)",
			filepath.Join(g.DataDir, admin.SocketFile), g.DataDir)
	}
	return err
}

func checkOutput(o string) error {
	if o != "text" && o != "json" {
		return usageErrorf("--output: %q is not text or json", o)
	}
	return nil
}

func newSessionsCmd(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sessions <command>",
		Short: "List and kick the daemon's SMPP sessions",
		Long: `List the SMPP sessions of the running daemon, or end one of them.

These commands talk to the daemon through its admin socket in the data
directory; they need 'smppd serve' to run.`,
		Example: `  smppd sessions list
  smppd sessions list --output json
  smppd sessions kick 42`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newSessionsListCmd(g), newSessionsKickCmd(g))
	return cmd
}

func newSessionsListCmd(g *globalOptions) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the SMPP sessions: token, bind type, address, bound since, submits, window in use",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			var rows []sessionInfo
			if err := daemonClient(g).Call(cmd.Context(), opSessionsList, nil, &rows); err != nil {
				return daemonErr(g, err)
			}
			if output == "json" {
				return writeTokenJSON(g.Stdout, rows)
			}
			tw := tabwriter.NewWriter(g.Stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tTOKEN\tSYSTEM_ID\tBIND\tSTATE\tREMOTE\tBOUND SINCE\tSUBMITS\tWINDOW\tPENDING")
			for _, r := range rows {
				since := "-"
				if !r.BoundAt.IsZero() {
					since = r.BoundAt.UTC().Format(time.DateTime) + "Z"
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\n", r.ID, tokenOr(r.Token, "-"), tokenOr(r.SystemID, "-"),
					r.BindType, r.State, r.Remote, since, r.Submits, r.WindowInUse, r.Pending)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&output, "output", "text", "output format: text or json")
	return cmd
}

func newSessionsKickCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "kick ID",
		Short:   "Unbind one session (the client may bind again)",
		Example: "  smppd sessions kick 42",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseUint(args[0], 10, 64)
			if err != nil {
				return usageErrorf("session id %q is not a number (see 'smppd sessions list')", args[0])
			}
			var row sessionInfo
			if err := daemonClient(g).Call(cmd.Context(), opSessionsKick, map[string]uint64{"id": id}, &row); err != nil {
				return daemonErr(g, err)
			}
			fmt.Fprintf(g.Stdout, "unbinding session %d (%s, %s from %s)\n", row.ID, tokenOr(row.Token, "-"), row.BindType, row.Remote)
			return nil
		},
	}
}

func newStatusCmd(g *globalOptions) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the running daemon's state: uptime, version, store size, queues",
		Args:  cobra.NoArgs,
		Example: `  smppd status
  smppd status --output json`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
			defer cancel()
			var st statusInfo
			if err := daemonClient(g).Call(ctx, opStatus, nil, &st); err != nil {
				return daemonErr(g, err)
			}
			if output == "json" {
				return writeTokenJSON(g.Stdout, st)
			}
			tw := tabwriter.NewWriter(g.Stdout, 0, 0, 2, ' ', 0)
			up := (time.Duration(st.UptimeSeconds) * time.Second).String()
			for _, kv := range [][2]string{
				{"version", st.Version},
				{"uptime", up},
				{"data_dir", st.DataDir},
				{"store_size", strconv.FormatInt(st.StoreBytes, 10) + " bytes"},
				{"sessions", fmt.Sprintf("%d (%d bound)", st.Sessions, st.Bound)},
				{"messages", strconv.Itoa(st.Messages)},
				{"pending_test_messages", strconv.Itoa(st.Pending)},
				{"receipts_waiting", strconv.Itoa(st.Receipts)},
				{"callbacks_waiting", strconv.Itoa(st.Callbacks)},
				{"outbox", strconv.Itoa(st.Outbox)},
				{"commit_queue", strconv.Itoa(st.CommitQueue)},
			} {
				fmt.Fprintf(tw, "%s\t%s\n", kv[0], kv[1])
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&output, "output", "text", "output format: text or json")
	return cmd
}
