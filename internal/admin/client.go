package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"syscall"
	"time"

	"github.com/smppd/smppd/tokenstore"
)

// Client sends requests to a daemon's admin socket. The zero value is not
// usable; use NewClient.
type Client struct {
	// SocketPath is the daemon's admin socket.
	SocketPath string
	// Timeout bounds one request when ctx has no earlier deadline
	// (default 30s).
	Timeout time.Duration
}

// NewClient returns a client for the socket at socketPath.
func NewClient(socketPath string) *Client {
	return &Client{SocketPath: socketPath, Timeout: connTimeout}
}

// Call sends op with args (nil for none) and decodes the result into
// result (nil to discard it). If no daemon listens on the socket (no
// socket file, or a stale one) it returns an error wrapping ErrNoDaemon
// and nothing was sent. A daemon's error comes back as a *RemoteError.
func (c *Client) Call(ctx context.Context, op string, args, result any) error {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = connTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.SocketPath)
	if err != nil {
		// No socket file, a stale one, or no such directory: no daemon.
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOTDIR) {
			return fmt.Errorf("%w: %s", ErrNoDaemon, c.SocketPath)
		}
		return fmt.Errorf("admin: connect to %s: %w", c.SocketPath, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	req := request{Op: op}
	if args != nil {
		if req.Args, err = json.Marshal(args); err != nil {
			return fmt.Errorf("admin: encode %s request: %w", op, err)
		}
	}
	b, _ := json.Marshal(req)
	if _, err := conn.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("admin: send %s: %w", op, err)
	}
	var resp response
	if err := json.NewDecoder(io.LimitReader(conn, 64<<20)).Decode(&resp); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("admin: %s: %w", op, ctx.Err())
		}
		return fmt.Errorf("admin: read %s answer: %w", op, err)
	}
	if resp.Error != nil {
		return resp.Error
	}
	if result != nil {
		if err := json.Unmarshal(resp.Result, result); err != nil {
			return fmt.Errorf("admin: decode %s answer: %w", op, err)
		}
	}
	return nil
}

// Ping checks that a daemon answers and returns its process id.
func (c *Client) Ping(ctx context.Context) (int, error) {
	var r PingResult
	err := c.Call(ctx, OpPing, nil, &r)
	return r.PID, err
}

// CreateToken runs OpTokenCreate.
func (c *Client) CreateToken(ctx context.Context, p tokenstore.CreateParams) (TokenResult, error) {
	var r TokenResult
	err := c.Call(ctx, OpTokenCreate, p, &r)
	return r, err
}

// GetToken runs OpTokenGet.
func (c *Client) GetToken(ctx context.Context, idOrName string) (tokenstore.Token, error) {
	var t tokenstore.Token
	err := c.Call(ctx, OpTokenGet, tokenRef{Token: idOrName}, &t)
	return t, err
}

// ListTokens runs OpTokenList.
func (c *Client) ListTokens(ctx context.Context) ([]tokenstore.Token, error) {
	var ts []tokenstore.Token
	err := c.Call(ctx, OpTokenList, nil, &ts)
	return ts, err
}

// UpdateToken runs OpTokenUpdate.
func (c *Client) UpdateToken(ctx context.Context, idOrName string, p tokenstore.UpdateParams) (TokenResult, error) {
	var r TokenResult
	err := c.Call(ctx, OpTokenUpdate, updateArgs{Token: idOrName, Params: p}, &r)
	return r, err
}

// RevokeToken runs OpTokenRevoke.
func (c *Client) RevokeToken(ctx context.Context, idOrName string) (tokenstore.Token, error) {
	var t tokenstore.Token
	err := c.Call(ctx, OpTokenRevoke, tokenRef{Token: idOrName}, &t)
	return t, err
}

// RotateToken runs OpTokenRotate.
func (c *Client) RotateToken(ctx context.Context, idOrName string, p tokenstore.RotateParams) (TokenResult, error) {
	var r TokenResult
	err := c.Call(ctx, OpTokenRotate, rotateArgs{Token: idOrName, Params: p}, &r)
	return r, err
}
