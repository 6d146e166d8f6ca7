package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/smppd/smppd/internal/admin"
	"github.com/smppd/smppd/internal/upstream"
)

// opUpstreamStatus is the admin operation behind `smppd upstream status`.
const opUpstreamStatus = "upstream.status"

// registerUpstreamOps adds the upstream operations to the admin server. c
// may be nil (no upstream configured): the status is then empty.
func registerUpstreamOps(adm *admin.Server, c *upstream.Connector) {
	adm.Handle(opUpstreamStatus, func(context.Context, json.RawMessage) (any, error) {
		if c == nil {
			return upstream.Status{Upstreams: []upstream.LinkStatus{}}, nil
		}
		return c.Status(), nil
	})
}

func newUpstreamCmd(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "upstream <command>",
		Short: "Inspect the upstream SMSC connections of the running daemon",
		Long: `Inspect the connections that carry live tokens' messages to upstream SMSCs.

These commands talk to the daemon through its admin socket in the data
directory; they need 'smppd serve' to run.`,
		Example: `  smppd upstream status
  smppd upstream status --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newUpstreamStatusCmd(g))
	return cmd
}

func newUpstreamStatusCmd(g *globalOptions) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show each upstream: connection state, window in use, queue depth, last error",
		Example: `  smppd upstream status
  smppd upstream status --output json | jq '.upstreams[] | {name, state}'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
			defer cancel()
			var st upstream.Status
			if err := daemonClient(g).Call(ctx, opUpstreamStatus, nil, &st); err != nil {
				return daemonErr(g, err)
			}
			if output == "json" {
				return writeTokenJSON(g.Stdout, st)
			}
			return writeUpstreamStatus(g, st)
		},
	}
	cmd.Flags().StringVar(&output, "output", "text", "output format: text or json")
	return cmd
}

func writeUpstreamStatus(g *globalOptions, st upstream.Status) error {
	fmt.Fprintf(g.Stdout, "outbox %d, in flight %d, retrying %d\n", st.Outbox, st.InFlight, st.Retrying)
	if len(st.Upstreams) == 0 {
		fmt.Fprintln(g.Stdout, "no upstream configured")
		return nil
	}
	tw := tabwriter.NewWriter(g.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tADDRESS\tSTATE\tSESSIONS\tWINDOW\tQUEUED\tACCEPTED\tREJECTED\tRETRIED\tNO ANSWER\tRECEIPTS\tMO\tLAST ERROR")
	for _, u := range st.Upstreams {
		sessions := ""
		for i, s := range u.Sessions {
			if i > 0 {
				sessions += ","
			}
			sessions += s.Role + "=" + s.State
		}
		lastErr := "-"
		if u.LastError != "" {
			lastErr = u.LastErrorAt.UTC().Format(time.DateTime) + "Z " + u.LastError
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d/%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n", u.Name, u.Address, u.State, sessions,
			u.WindowInUse, u.Window, u.Queued, u.Accepted, u.Rejected, u.Retried, u.Failed, u.Receipts, u.MO, lastErr)
	}
	return tw.Flush()
}
