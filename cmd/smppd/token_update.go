package main

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/spf13/cobra"

	"github.com/smppd/smppd/internal/admin"
	"github.com/smppd/smppd/tokenstore"
)

type tokenUpdateOptions struct {
	g     *globalOptions
	Token string

	Name          string
	CallbackURL   string
	NoCallbackURL bool
	Test, Live    bool
	SMPP, NoSMPP  bool
	HTTP, NoHTTP  bool
	MaxBinds      int
	MaxTPS        int
	AllowIPs      []string
	AnyIP         bool
	Output        tokenOutputFlag

	// changed reports whether a flag was given on the command line.
	changed func(flag string) bool
}

func newTokenUpdateCmd(g *globalOptions, runF func(context.Context, *tokenUpdateOptions) error) *cobra.Command {
	opts := &tokenUpdateOptions{g: g}
	cmd := &cobra.Command{
		Use:   "update ID|NAME [flags]",
		Short: "Change a token's name, permissions, mode, callback URL or limits",
		Long: `Change a token. Only the given flags change; everything else is kept.

Changes take effect at once. While the daemon runs, removing the SMPP
permission (--no-smpp) unbinds the token's live SMPP sessions immediately;
new limits apply to new binds and messages.

--smpp on a token that never had SMPP issues its system_id and password and
shows them once. --no-smpp keeps them, so a later --smpp restores the same
credentials (rotate them if that is not wanted).

--allow-ip replaces the whole list of allowed networks; --any-ip clears it.
The API key's smppd_test_/smppd_live_ prefix is fixed when the key is issued:
after --test or --live, "smppd token rotate --api-key" issues a key with the
matching prefix (the old key keeps working until then).`,
		Example: `  smppd token update shop --name shop-eu
  smppd token update shop --live --callback-url https://shop.example.com/dlr
  smppd token update shop --no-smpp --http
  smppd token update shop --max-binds 4 --max-tps 200 --allow-ip 203.0.113.0/24 --allow-ip 2001:db8::/32
  smppd token update shop --any-ip --max-tps 0`,
		Args: exactlyOneToken,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Token = args[0]
			opts.changed = cmd.Flags().Changed
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runTokenUpdate(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Name, "name", "", "new name (unique, up to 64 characters)")
	f.StringVar(&opts.CallbackURL, "callback-url", "", "new http(s) URL for delivery reports")
	f.BoolVar(&opts.NoCallbackURL, "no-callback-url", false, "remove the callback URL")
	f.BoolVar(&opts.Test, "test", false, "switch to test mode (simulated delivery)")
	f.BoolVar(&opts.Live, "live", false, "switch to live mode (real delivery)")
	f.BoolVar(&opts.SMPP, "smpp", false, "grant the SMPP permission")
	f.BoolVar(&opts.NoSMPP, "no-smpp", false, "remove the SMPP permission (unbinds live sessions)")
	f.BoolVar(&opts.HTTP, "http", false, "grant the HTTP permission")
	f.BoolVar(&opts.NoHTTP, "no-http", false, "remove the HTTP permission")
	f.IntVar(&opts.MaxBinds, "max-binds", 0, "maximum concurrent SMPP binds (0 = unlimited)")
	f.IntVar(&opts.MaxTPS, "max-tps", 0, "maximum messages per second (0 = unlimited)")
	f.StringArrayVar(&opts.AllowIPs, "allow-ip", nil, "allow binds only from these CIDRs or addresses (repeatable; replaces the list)")
	f.BoolVar(&opts.AnyIP, "any-ip", false, "allow binds from any address (clears the list)")
	addTokenOutputFlag(cmd, &opts.Output)
	return cmd
}

// params checks the flags and turns the given ones into UpdateParams.
func (o *tokenUpdateOptions) params() (tokenstore.UpdateParams, error) {
	var p tokenstore.UpdateParams
	if err := o.Output.check(); err != nil {
		return p, err
	}
	changed := o.changed
	if changed == nil {
		changed = func(string) bool { return false }
	}
	for _, pair := range [][2]string{
		{"callback-url", "no-callback-url"}, {"test", "live"}, {"smpp", "no-smpp"}, {"http", "no-http"}, {"allow-ip", "any-ip"},
	} {
		if changed(pair[0]) && changed(pair[1]) {
			return p, usageErrorf("--%s and --%s contradict each other", pair[0], pair[1])
		}
	}
	if changed("name") {
		if err := tokenstore.ValidateName(o.Name); err != nil {
			return p, tokenFlagErr("--name", err)
		}
		p.Name = &o.Name
	}
	if changed("callback-url") {
		if o.CallbackURL == "" {
			return p, usageErrorf("--callback-url is empty (use --no-callback-url to remove it)")
		}
		if err := tokenstore.ValidateCallbackURL(o.CallbackURL); err != nil {
			return p, tokenFlagErr("--callback-url", err)
		}
		p.CallbackURL = &o.CallbackURL
	}
	if changed("no-callback-url") && o.NoCallbackURL {
		p.CallbackURL = new("")
	}
	setBool := func(on, off string, onVal, offVal bool, dst **bool) {
		switch {
		case changed(on):
			*dst = new(onVal)
		case changed(off):
			*dst = new(!offVal)
		}
	}
	setBool("test", "live", o.Test, o.Live, &p.TestMode)
	setBool("smpp", "no-smpp", o.SMPP, o.NoSMPP, &p.SMPP)
	setBool("http", "no-http", o.HTTP, o.NoHTTP, &p.HTTP)
	if changed("max-binds") {
		if o.MaxBinds < 0 {
			return p, usageErrorf("--max-binds must be 0 (unlimited) or more, not %d", o.MaxBinds)
		}
		p.MaxBinds = &o.MaxBinds
	}
	if changed("max-tps") {
		if o.MaxTPS < 0 {
			return p, usageErrorf("--max-tps must be 0 (unlimited) or more, not %d", o.MaxTPS)
		}
		p.MaxTPS = &o.MaxTPS
	}
	if changed("allow-ip") {
		ips, err := parseTokenAllowIPs(o.AllowIPs)
		if err != nil {
			return p, err
		}
		p.AllowIPs = &ips
	}
	if changed("any-ip") && o.AnyIP {
		p.AllowIPs = &[]netip.Prefix{}
	}
	if p == (tokenstore.UpdateParams{}) {
		return p, usageErrorf("nothing to update: give at least one of --name, --callback-url, --no-callback-url, --test, --live, --smpp, --no-smpp, --http, --no-http, --max-binds, --max-tps, --allow-ip, --any-ip")
	}
	if p.SMPP != nil && p.HTTP != nil && !*p.SMPP && !*p.HTTP {
		return p, usageErrorf("--no-smpp with --no-http would leave the token without permissions")
	}
	return p, nil
}

func runTokenUpdate(ctx context.Context, o *tokenUpdateOptions) error {
	p, err := o.params()
	if err != nil {
		return err
	}
	var res admin.TokenResult
	err = withTokens(ctx, o.g, true, func(ops admin.TokenOps) error {
		res, err = ops.UpdateToken(ctx, o.Token, p)
		return err
	})
	if err != nil {
		return err
	}
	issued := res.Secrets.Password != ""
	w := o.g.Stdout
	if o.Output == "json" {
		err = writeTokenJSON(w, issuedView{tokenView: tokenViewOf(res.Token), Password: res.Secrets.Password})
	} else {
		fmt.Fprintf(w, "Updated token %q (%s).\n\n", res.Token.Name, res.Token.ID)
		if err = writeTokenText(w, res.Token); err == nil && issued {
			fmt.Fprintf(w, "\nSMPP credentials issued:\n")
			err = writeSecretsText(w, res)
		}
	}
	if issued {
		fmt.Fprintln(o.g.Stderr, tokenSecretsWarning)
	}
	return err
}
