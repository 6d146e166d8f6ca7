// Package admin is smppd's local administration channel: a JSON
// request/response protocol over a unix socket in the data directory
// (admin.sock, mode 0600), served by the daemon while it holds tokens.db,
// and the token operations that the `smppd token` commands run either
// through that socket (Client) or directly on the file (Local).
//
// Protocol: one request per connection. The client writes one JSON object
// {"op": "token.create", "args": {...}} and the server answers with one
// JSON object {"result": ...} or {"error": {"code": "not_found",
// "message": "..."}}, then closes the connection. Answers never carry
// secrets except those of token.create, token.update (when it issues SMPP
// credentials) and token.rotate.
package admin

import (
	"context"
	"errors"

	"github.com/smppd/smppd/tokenstore"
)

// Token operation names.
const (
	OpPing        = "ping"
	OpTokenCreate = "token.create"
	OpTokenGet    = "token.get"
	OpTokenList   = "token.list"
	OpTokenUpdate = "token.update"
	OpTokenRevoke = "token.revoke"
	OpTokenRotate = "token.rotate"
)

// TokenResult is the answer of the operations that may issue secrets.
// Secrets and CallbackSecret are shown to the operator once and never
// stored.
type TokenResult struct {
	Token   tokenstore.Token   `json:"token"`
	Secrets tokenstore.Secrets `json:"secrets"`
	// CallbackSecret signs the token's delivery-report callbacks; set by
	// create (always, so that a callback URL added later needs no rotation)
	// and by a rotation of the callback secret.
	CallbackSecret string `json:"callback_secret,omitempty"`
}

// TokenOps are the token administration operations. Client runs them
// through a daemon's admin socket; Local runs them on an open store. Both
// return the tokenstore errors (errors.Is works across the socket).
type TokenOps interface {
	CreateToken(ctx context.Context, p tokenstore.CreateParams) (TokenResult, error)
	GetToken(ctx context.Context, idOrName string) (tokenstore.Token, error)
	ListTokens(ctx context.Context) ([]tokenstore.Token, error)
	UpdateToken(ctx context.Context, idOrName string, p tokenstore.UpdateParams) (TokenResult, error)
	RevokeToken(ctx context.Context, idOrName string) (tokenstore.Token, error)
	RotateToken(ctx context.Context, idOrName string, p tokenstore.RotateParams) (TokenResult, error)
}

// Local runs TokenOps on a store the caller has opened. The daemon's
// Server uses one; the CLI uses one when no daemon runs.
type Local struct {
	Store     *tokenstore.Store
	MasterKey []byte
	// Changed, if set, is called after every committed change with the
	// token as stored now.
	Changed func(tokenstore.Token)
}

var _, _ TokenOps = (*Local)(nil), (*Client)(nil)

func (l *Local) changed(t tokenstore.Token) {
	if l.Changed != nil {
		l.Changed(t)
	}
}

// CreateToken creates a token; the result holds its secrets.
func (l *Local) CreateToken(ctx context.Context, p tokenstore.CreateParams) (TokenResult, error) {
	tok, sec, err := l.Store.Create(ctx, p)
	if err != nil {
		return TokenResult{}, err
	}
	l.changed(tok)
	return TokenResult{Token: tok, Secrets: sec, CallbackSecret: l.callbackSecret(tok)}, nil
}

func (l *Local) callbackSecret(t tokenstore.Token) string {
	if len(l.MasterKey) == 0 {
		return ""
	}
	return tokenstore.CallbackSecret(l.MasterKey, t)
}

// GetToken returns one token.
func (l *Local) GetToken(_ context.Context, idOrName string) (tokenstore.Token, error) {
	return l.Store.Get(idOrName)
}

// ListTokens returns every token.
func (l *Local) ListTokens(context.Context) ([]tokenstore.Token, error) {
	return l.Store.List()
}

// UpdateToken changes a token; Secrets holds a password only when the
// update enabled SMPP on a token that never had SMPP credentials.
func (l *Local) UpdateToken(_ context.Context, idOrName string, p tokenstore.UpdateParams) (TokenResult, error) {
	tok, sec, err := l.Store.Update(idOrName, p)
	if err != nil {
		return TokenResult{}, err
	}
	l.changed(tok)
	return TokenResult{Token: tok, Secrets: sec}, nil
}

// RevokeToken revokes a token.
func (l *Local) RevokeToken(_ context.Context, idOrName string) (tokenstore.Token, error) {
	tok, err := l.Store.Revoke(idOrName)
	if err != nil {
		return tokenstore.Token{}, err
	}
	l.changed(tok)
	return tok, nil
}

// RotateToken replaces credentials; the result holds the new ones.
func (l *Local) RotateToken(_ context.Context, idOrName string, p tokenstore.RotateParams) (TokenResult, error) {
	tok, sec, err := l.Store.Rotate(idOrName, p)
	if err != nil {
		return TokenResult{}, err
	}
	l.changed(tok)
	res := TokenResult{Token: tok, Secrets: sec}
	if p.CallbackSecret {
		res.CallbackSecret = l.callbackSecret(tok)
	}
	return res, nil
}

// Errors of the admin channel itself.
var (
	// ErrNoDaemon means nothing listens on the admin socket: no daemon
	// runs, and the caller may open the store itself. No request was sent.
	ErrNoDaemon = errors.New("admin: no daemon is listening on the admin socket")
	// ErrDaemonRunning is returned by Listen when a live daemon already
	// answers on the socket.
	ErrDaemonRunning = errors.New("admin: another smppd daemon is serving this data directory")
	// ErrUnknownOp answers a request whose op has no handler.
	ErrUnknownOp = errors.New("admin: unknown operation")
	// ErrBadRequest answers a request that cannot be decoded.
	ErrBadRequest = errors.New("admin: bad request")
)

// errorCodes maps the errors that cross the socket to stable codes; the
// client turns a code back into an error that matches the same sentinel.
var errorCodes = []struct {
	code string
	err  error
}{
	{"not_found", tokenstore.ErrNotFound},
	{"duplicate_name", tokenstore.ErrDuplicateName},
	{"invalid_name", tokenstore.ErrInvalidName},
	{"invalid_url", tokenstore.ErrInvalidURL},
	{"invalid_cidr", tokenstore.ErrInvalidCIDR},
	{"invalid_limit", tokenstore.ErrInvalidLimit},
	{"no_permission", tokenstore.ErrNoPermission},
	{"no_smpp", tokenstore.ErrNoSMPP},
	{"revoked", tokenstore.ErrRevoked},
	{"closed", tokenstore.ErrClosed},
	{"unknown_op", ErrUnknownOp},
	{"bad_request", ErrBadRequest},
	{"canceled", context.Canceled},
	{"deadline_exceeded", context.DeadlineExceeded},
}

func codeOf(err error) string {
	for _, c := range errorCodes {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return "error"
}

// RemoteError is an error answered by the daemon. Error returns the
// daemon's message; errors.Is matches the sentinel its code stands for.
type RemoteError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *RemoteError) Error() string { return e.Message }

// Unwrap returns the sentinel error of e.Code, or nil.
func (e *RemoteError) Unwrap() error {
	for _, c := range errorCodes {
		if c.code == e.Code {
			return c.err
		}
	}
	return nil
}
