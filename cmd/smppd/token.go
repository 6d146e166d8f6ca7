package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/smppd/smppd/internal/admin"
	"github.com/smppd/smppd/tokenstore"
)

func newTokenCmd(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token <command>",
		Short: "Issue and manage API tokens",
		Long: `Issue and manage the API tokens applications authenticate with.

A token has a name, permissions (smpp: bind over SMPP; http: send over the
HTTP API), an optional callback URL for delivery reports, optional limits and
an optional test mode. Its secrets (SMPP password, API key, callback signing
secret) are shown once, when they are issued; only their hashes are stored.

The commands work whether or not the daemon runs: while "smppd serve" holds
the token database they go through its admin socket (<data-dir>/admin.sock),
and changes take effect at once (revoking a token, or removing its SMPP
permission, unbinds its live sessions); otherwise they open
<data-dir>/tokens.db directly.`,
		Example: `  smppd token create --name shop --smpp
  smppd token list
  smppd token show shop --output json
  smppd token update shop --max-tps 50 --allow-ip 203.0.113.0/24
  smppd token rotate shop --smpp-password
  smppd token revoke shop`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf("unknown command %q for \"smppd token\" (see smppd token --help)", args[0])
			}
			return cmd.Help()
		},
	}
	cmd.AddCommand(
		newTokenCreateCmd(g, nil),
		newTokenListCmd(g, nil),
		newTokenShowCmd(g, nil),
		newTokenUpdateCmd(g, nil),
		newTokenRotateCmd(g, nil),
		newTokenRevokeCmd(g, nil),
	)
	return cmd
}

// tokenSession is where token operations run: the daemon's admin socket,
// or the token database opened directly.
type tokenSession struct {
	admin.TokenOps
	close func() error
}

func (s *tokenSession) Close() error {
	if s.close == nil {
		return nil
	}
	return s.close()
}

// openTokens returns the token operations for g.DataDir: through the
// daemon when one answers on the admin socket, on the file otherwise. For
// a read (write=false) on a data directory holding no token database,
// nothing is created and the operations see no tokens.
func openTokens(ctx context.Context, g *globalOptions, write bool) (*tokenSession, error) {
	client := admin.NewClient(filepath.Join(g.DataDir, admin.SocketFile))
	_, err := client.Ping(ctx)
	if err == nil {
		return &tokenSession{TokenOps: client}, nil
	}
	if !errors.Is(err, admin.ErrNoDaemon) {
		return nil, err
	}
	dbPath := filepath.Join(g.DataDir, tokenstore.DBFile)
	if !write {
		if _, err := os.Stat(dbPath); errors.Is(err, fs.ErrNotExist) {
			return &tokenSession{TokenOps: noTokens{}}, nil
		}
	}
	if err := os.MkdirAll(g.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory %s: %v", g.DataDir, tokenPathErr(err))
	}
	var key []byte
	if write {
		if key, err = tokenstore.LoadOrCreateMasterKey(g.DataDir); err != nil {
			return nil, fmt.Errorf("data directory %s: %v", g.DataDir, tokenPathErr(err))
		}
	}
	st, err := tokenstore.Open(dbPath, tokenstore.Options{})
	if errors.Is(err, tokenstore.ErrLocked) {
		return nil, fmt.Errorf("%s is locked by another process and no daemon answers on %s", dbPath, client.SocketPath)
	}
	if err != nil {
		return nil, fmt.Errorf("data directory %s: %v", g.DataDir, tokenPathErr(err))
	}
	return &tokenSession{TokenOps: &admin.Local{Store: st, MasterKey: key}, close: st.Close}, nil
}

// tokenPathErr keeps the useful end of a file error ("permission denied",
// "not a directory") without the package prefixes.
func tokenPathErr(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Op + " " + pe.Path + ": " + pe.Err.Error()
	}
	return tokenCleanErr(err).Error()
}

// noTokens answers reads on a data directory without a token database.
type noTokens struct{}

func (noTokens) CreateToken(context.Context, tokenstore.CreateParams) (admin.TokenResult, error) {
	return admin.TokenResult{}, errors.New("no token database")
}
func (noTokens) GetToken(_ context.Context, idOrName string) (tokenstore.Token, error) {
	return tokenstore.Token{}, fmt.Errorf("%w: %q", tokenstore.ErrNotFound, idOrName)
}
func (noTokens) ListTokens(context.Context) ([]tokenstore.Token, error) { return nil, nil }
func (noTokens) UpdateToken(context.Context, string, tokenstore.UpdateParams) (admin.TokenResult, error) {
	return admin.TokenResult{}, errors.New("no token database")
}
func (noTokens) RevokeToken(context.Context, string) (tokenstore.Token, error) {
	return tokenstore.Token{}, errors.New("no token database")
}
func (noTokens) RotateToken(context.Context, string, tokenstore.RotateParams) (admin.TokenResult, error) {
	return admin.TokenResult{}, errors.New("no token database")
}

// withTokens runs fn on the token operations and closes them.
func withTokens(ctx context.Context, g *globalOptions, write bool, fn func(admin.TokenOps) error) error {
	s, err := openTokens(ctx, g, write)
	if err != nil {
		return tokenCleanErr(err)
	}
	err = fn(s)
	if cerr := s.Close(); err == nil && cerr != nil {
		err = cerr
	}
	return tokenCleanErr(err)
}

// tokenCLIError is an error with the package prefixes ("tokenstore: ",
// "admin: ") taken off its message, for the one line the operator reads;
// errors.Is still sees the original.
type tokenCLIError struct {
	msg string
	err error
}

func (e *tokenCLIError) Error() string { return e.msg }
func (e *tokenCLIError) Unwrap() error { return e.err }

func tokenCleanErr(err error) error {
	if err == nil {
		return nil
	}
	var ue *usageError
	if errors.As(err, &ue) {
		return err
	}
	msg := err.Error()
	for _, p := range []string{"tokenstore: ", "admin: "} {
		msg = strings.TrimPrefix(msg, p)
	}
	if msg == err.Error() {
		return err
	}
	return &tokenCLIError{msg: msg, err: err}
}

// exactlyOneToken accepts one ID|NAME argument.
func exactlyOneToken(_ *cobra.Command, args []string) error {
	if len(args) != 1 {
		return usageErrorf("expected one token id or name, got %d arguments", len(args))
	}
	if args[0] == "" {
		return usageErrorf("token id or name is empty")
	}
	return nil
}

func tokenNoArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf("%q takes no arguments, got %q", cmd.CommandPath(), args[0])
	}
	return nil
}

// tokenOutputFlag is the --output value, checked when the command runs.
type tokenOutputFlag string

func addTokenOutputFlag(cmd *cobra.Command, o *tokenOutputFlag) {
	*o = "text"
	cmd.Flags().StringVarP((*string)(o), "output", "o", "text", "output format: text or json")
}

func (o tokenOutputFlag) check() error {
	if o != "text" && o != "json" {
		return usageErrorf("--output must be text or json, not %q", string(o))
	}
	return nil
}

// tokenFlagErr turns a tokenstore validation error about a flag's value
// into a usage error naming the flag.
func tokenFlagErr(flag string, err error) error {
	return usageErrorf("%s: %s", flag, tokenCleanErr(err).Error())
}

// parseTokenAllowIPs parses --allow-ip values.
func parseTokenAllowIPs(vals []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, v := range vals {
		p, err := tokenstore.ParsePrefix(strings.TrimSpace(v))
		if err != nil {
			return nil, tokenFlagErr("--allow-ip", err)
		}
		out = append(out, p)
	}
	return out, nil
}
