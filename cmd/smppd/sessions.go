package main

import (
	"context"
	"errors"
	"fmt"
	"io"
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
		Long: `List the daemon's SMPP sessions, bound or not.

WINDOW is the deliver_sm sent to the client and not answered yet; PENDING the
client's requests not answered yet; RECEIPTS the receipts queued for the
session's token (shared by all its receivers, counted up to 10000).`,
		Example: `  smppd sessions list
  smppd sessions list --output json | jq '.[] | select(.window_in_use > 5)'`,
		Args: cobra.NoArgs,
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
			if len(rows) == 0 {
				fmt.Fprintln(g.Stdout, "no sessions")
				return nil
			}
			fmt.Fprintln(tw, "ID\tTOKEN\tSYSTEM_ID\tBIND\tSTATE\tREMOTE\tBOUND SINCE\tSUBMITS\tWINDOW\tPENDING\tRECEIPTS")
			for _, r := range rows {
				since := "-"
				if !r.BoundAt.IsZero() {
					since = r.BoundAt.UTC().Format(time.DateTime) + "Z"
				}
				tlsMark := ""
				if r.TLS {
					tlsMark = " (tls)"
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s%s\t%s\t%d\t%d\t%d\t%s\n", r.ID, tokenOr(r.Token, "-"), tokenOr(r.SystemID, "-"),
					r.BindType, r.State, r.Remote, tlsMark, since, r.Submits, r.WindowInUse, r.Pending, receiptCount(r.ReceiptsPending))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&output, "output", "text", "output format: text or json")
	return cmd
}

func newSessionsKickCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "kick ID",
		Short: "Unbind one session (the client may bind again)",
		Long: `Send unbind to one session; the client answers and disconnects, and may bind
again at once. To keep a client out, revoke or disable its token instead
('smppd token revoke NAME').`,
		Example: "  smppd sessions list\n  smppd sessions kick 42",
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
		Short: "Show the running daemon's state: uptime, version, store size, queues, receipts per token",
		Long: `Show the running daemon's state: version, uptime, the store files' sizes,
sessions, the store's queues (test-mode messages, receipts, callbacks, the
live outbox, the commit queue), the receipts waiting per token with the age
of the oldest, and the upstream connections when upstreams are configured.

A token whose receipts keep piling up has no receiver bound (or one that does
not answer deliver_sm): see 'smppd sessions list'.`,
		Args: cobra.NoArgs,
		Example: `  smppd status
  smppd status --output json | jq .receipts_by_token`,
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
			return writeStatus(g.Stdout, st, time.Now())
		},
	}
	cmd.Flags().StringVar(&output, "output", "text", "output format: text or json")
	return cmd
}

// receiptCount spells a capped count: "10000+" at the cap.
func receiptCount(n int) string {
	if n >= receiptCountCap {
		return strconv.Itoa(receiptCountCap) + "+"
	}
	return strconv.Itoa(n)
}

func writeStatus(w io.Writer, st statusInfo, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	up := (time.Duration(st.UptimeSeconds) * time.Second).String()
	for _, kv := range [][2]string{
		{"version", st.Version},
		{"uptime", up + " (since " + st.StartedAt.UTC().Format(time.DateTime) + "Z)"},
		{"data_dir", st.DataDir},
		{"store_size", fmt.Sprintf("messages.db %s, tokens.db %s", humanBytes(st.StoreBytes), humanBytes(st.TokensBytes))},
		{"sessions", fmt.Sprintf("%d (%d bound)", st.Sessions, st.Bound)},
		{"messages", strconv.Itoa(st.Messages)},
		{"pending_test_messages", strconv.Itoa(st.Pending)},
		{"receipts_waiting", strconv.Itoa(st.Receipts)},
		{"callbacks_waiting", fmt.Sprintf("%d (%d failed)", st.Callbacks, st.CallbacksGone)},
		{"outbox", strconv.Itoa(st.Outbox)},
		{"commit_queue", strconv.Itoa(st.CommitQueue)},
		{"commit_errors", strconv.FormatUint(st.CommitErrors, 10)},
	} {
		fmt.Fprintf(tw, "%s\t%s\n", kv[0], kv[1])
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(st.ReceiptsByToken) > 0 {
		fmt.Fprintln(w, "\nreceipts waiting per token:")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "TOKEN\tTOKEN_ID\tWAITING\tOLDEST")
		for _, r := range st.ReceiptsByToken {
			n := strconv.Itoa(r.Waiting)
			if r.Capped {
				n += "+"
			}
			oldest := "-"
			if !r.Oldest.IsZero() {
				oldest = now.Sub(r.Oldest).Truncate(time.Second).String() + " ago"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", tokenOr(r.Token, "(deleted)"), r.TokenID, n, oldest)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if st.Upstreams == nil {
		return nil
	}
	if len(st.Upstreams.Upstreams) == 0 {
		fmt.Fprintln(w, "\nupstreams: none configured")
		return nil
	}
	fmt.Fprintf(w, "\nupstreams (outbox %d, in flight %d, retrying %d):\n", st.Upstreams.Outbox, st.Upstreams.InFlight, st.Upstreams.Retrying)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tADDRESS\tSTATE\tWINDOW\tQUEUED\tACCEPTED\tLAST ERROR")
	for _, u := range st.Upstreams.Upstreams {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%d\t%d\t%s\n", u.Name, u.Address, u.State, u.WindowInUse, u.Window, u.Queued, u.Accepted, tokenOr(u.LastError, "-"))
	}
	return tw.Flush()
}

// humanBytes spells a size in the largest binary unit that keeps it >= 1.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
