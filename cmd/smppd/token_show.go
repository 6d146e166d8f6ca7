package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/smppd/smppd/internal/admin"
	"github.com/smppd/smppd/tokenstore"
)

type tokenShowOptions struct {
	g      *globalOptions
	Token  string
	Output tokenOutputFlag
}

func newTokenShowCmd(g *globalOptions, runF func(context.Context, *tokenShowOptions) error) *cobra.Command {
	opts := &tokenShowOptions{g: g}
	cmd := &cobra.Command{
		Use:   "show ID|NAME",
		Short: "Show one token (never its secrets)",
		Long: `Show one token: permissions, mode, callback URL, limits, SMPP system_id,
the first characters of its API key (to recognise a leaked key) and its
timestamps. Secrets are never shown.`,
		Example: `  smppd token show shop
  smppd token show tok_3xq7mzk2b4yd6p1a --output json`,
		Args: exactlyOneToken,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Token = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runTokenShow(cmd.Context(), opts)
		},
	}
	addTokenOutputFlag(cmd, &opts.Output)
	return cmd
}

func runTokenShow(ctx context.Context, o *tokenShowOptions) error {
	if err := o.Output.check(); err != nil {
		return err
	}
	var t tokenstore.Token
	err := withTokens(ctx, o.g, false, func(ops admin.TokenOps) error {
		var err error
		t, err = ops.GetToken(ctx, o.Token)
		return err
	})
	if err != nil {
		return err
	}
	// Given-up HTTP callbacks live in the message store; a token show must
	// not fail because of it, so an error there is reported, not returned.
	cf, cfErr := lookupCallbackFailures(ctx, o.g, t.ID)
	if cfErr != nil {
		fmt.Fprintf(o.g.Stderr, "smppd: callback failures unavailable: %v\n", cfErr)
	}
	if o.Output == "json" {
		return writeTokenJSON(o.g.Stdout, struct {
			tokenView
			CallbackFailures callbackFailures `json:"callback_failures"`
		}{tokenViewOf(t), cf})
	}
	var extra [][2]string
	if t.CallbackURL != "" || cf.Count > 0 {
		extra = append(extra, [2]string{"callbacks_failed", callbackFailuresText(cf)})
	}
	return writeTokenText(o.g.Stdout, t, extra...)
}
