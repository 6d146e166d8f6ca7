package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/smppd/smppd/tokenstore"
)

// SocketFile is the admin socket's name in the data directory.
const SocketFile = "admin.sock"

// Limits of one request.
const (
	maxRequestBytes = 1 << 20
	connTimeout     = 30 * time.Second
)

// HandlerFunc answers one operation. req is the request's "args" (null
// when absent). The result is encoded as JSON; an error is sent with the
// code of the tokenstore or admin sentinel it wraps ("error" otherwise)
// and its message.
type HandlerFunc func(ctx context.Context, req json.RawMessage) (any, error)

// Hooks let the daemon react to changes made through the socket.
type Hooks struct {
	// TokenChanged is called after every committed create, update, revoke
	// and rotate, with the token as stored now, before the answer is sent:
	// when the CLI returns, the daemon has seen the change. The daemon
	// refreshes its cached copy and ends the token's bound sessions when
	// !t.Active() or !t.Permissions.SMPP. It runs on the request's
	// goroutine and must not block for long.
	TokenChanged func(t tokenstore.Token)
}

// Server answers admin requests on a unix socket. Set Hooks and add
// handlers before Serve; it is safe for concurrent use after.
type Server struct {
	// Hooks are read at each request.
	Hooks Hooks

	logger *slog.Logger
	local  *Local

	mu       sync.RWMutex
	handlers map[string]HandlerFunc
}

// NewServer returns a server with the token operations (OpToken*) and
// OpPing registered. masterKey derives the callback secrets shown by
// create and rotate (see tokenstore.LoadOrCreateMasterKey). A nil logger
// means slog.Default().
func NewServer(store *tokenstore.Store, masterKey []byte, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.Default()
	}
	srv := &Server{logger: logger, handlers: make(map[string]HandlerFunc)}
	srv.local = &Local{Store: store, MasterKey: masterKey, Changed: func(t tokenstore.Token) {
		if h := srv.Hooks.TokenChanged; h != nil {
			h(t)
		}
	}}
	srv.registerTokenOps()
	srv.Handle(OpPing, func(context.Context, json.RawMessage) (any, error) {
		return PingResult{PID: os.Getpid()}, nil
	})
	return srv
}

// PingResult answers OpPing.
type PingResult struct {
	PID int `json:"pid"`
}

// Handle registers fn for op, replacing any handler already registered.
func (srv *Server) Handle(op string, fn HandlerFunc) {
	srv.mu.Lock()
	srv.handlers[op] = fn
	srv.mu.Unlock()
}

// tokenRef names a token in a request.
type tokenRef struct {
	Token string `json:"token"`
}

type updateArgs struct {
	Token  string                  `json:"token"`
	Params tokenstore.UpdateParams `json:"params"`
}

type rotateArgs struct {
	Token  string                  `json:"token"`
	Params tokenstore.RotateParams `json:"params"`
}

func decode[T any](req json.RawMessage) (T, error) {
	var v T
	if len(req) == 0 || string(req) == "null" {
		return v, nil
	}
	if err := json.Unmarshal(req, &v); err != nil {
		return v, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	return v, nil
}

func (srv *Server) registerTokenOps() {
	l := srv.local
	srv.Handle(OpTokenCreate, func(ctx context.Context, req json.RawMessage) (any, error) {
		p, err := decode[tokenstore.CreateParams](req)
		if err != nil {
			return nil, err
		}
		return l.CreateToken(ctx, p)
	})
	srv.Handle(OpTokenGet, func(ctx context.Context, req json.RawMessage) (any, error) {
		a, err := decode[tokenRef](req)
		if err != nil {
			return nil, err
		}
		return l.GetToken(ctx, a.Token)
	})
	srv.Handle(OpTokenList, func(ctx context.Context, _ json.RawMessage) (any, error) {
		return l.ListTokens(ctx)
	})
	srv.Handle(OpTokenUpdate, func(ctx context.Context, req json.RawMessage) (any, error) {
		a, err := decode[updateArgs](req)
		if err != nil {
			return nil, err
		}
		return l.UpdateToken(ctx, a.Token, a.Params)
	})
	srv.Handle(OpTokenRevoke, func(ctx context.Context, req json.RawMessage) (any, error) {
		a, err := decode[tokenRef](req)
		if err != nil {
			return nil, err
		}
		return l.RevokeToken(ctx, a.Token)
	})
	srv.Handle(OpTokenRotate, func(ctx context.Context, req json.RawMessage) (any, error) {
		a, err := decode[rotateArgs](req)
		if err != nil {
			return nil, err
		}
		return l.RotateToken(ctx, a.Token, a.Params)
	})
}

// request and response are the wire messages.
type request struct {
	Op   string          `json:"op"`
	Args json.RawMessage `json:"args,omitempty"`
}

type response struct {
	Result json.RawMessage `json:"result,omitempty"`
	Error  *RemoteError    `json:"error,omitempty"`
}

// Listen creates the admin socket at socketPath with mode 0600. A socket
// file that no process answers on (left by a crash) is removed; if a live
// daemon answers, Listen fails with ErrDaemonRunning. Closing the
// listener removes the socket file.
func Listen(socketPath string) (net.Listener, error) {
	if fi, err := os.Lstat(socketPath); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("admin: %s exists and is not a socket", socketPath)
		}
		c, err := net.DialTimeout("unix", socketPath, time.Second)
		if err == nil {
			c.Close()
			return nil, fmt.Errorf("%w (%s answers)", ErrDaemonRunning, socketPath)
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("admin: probe %s: %w", socketPath, err)
		}
		if err := os.Remove(socketPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("admin: remove stale socket: %w", err)
		}
	}
	// Bind under a temporary name, restrict it, then rename it into place,
	// so the socket is never reachable with the umask's wider mode.
	tmp := filepath.Join(filepath.Dir(socketPath), "."+filepath.Base(socketPath)+"."+strconv.Itoa(os.Getpid()))
	os.Remove(tmp)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("admin: listen: %w", err)
	}
	ln.SetUnlinkOnClose(false)
	if err := os.Chmod(tmp, 0o600); err != nil {
		ln.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("admin: restrict socket: %w", err)
	}
	if err := os.Rename(tmp, socketPath); err != nil {
		ln.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("admin: listen: %w", err)
	}
	return &socketListener{UnixListener: ln, path: socketPath}, nil
}

// socketListener removes the socket file when closed.
type socketListener struct {
	*net.UnixListener
	path string
	once sync.Once
}

func (l *socketListener) Close() error {
	err := l.UnixListener.Close()
	l.once.Do(func() { os.Remove(l.path) })
	return err
}

// Serve listens on socketPath (see Listen) and serves until ctx ends.
func (srv *Server) Serve(ctx context.Context, socketPath string) error {
	ln, err := Listen(socketPath)
	if err != nil {
		return err
	}
	return srv.ServeListener(ctx, ln)
}

// ServeListener serves requests from ln until ctx ends, then closes ln
// (removing the socket file), waits for requests in flight and returns
// nil. It returns an error only if accepting fails for another reason.
func (srv *Server) ServeListener(ctx context.Context, ln net.Listener) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	defer ln.Close()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return fmt.Errorf("admin: accept: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			srv.serveConn(ctx, c)
		}()
	}
}

func (srv *Server) serveConn(ctx context.Context, c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(connTimeout))
	var req request
	var resp response
	if err := json.NewDecoder(io.LimitReader(c, maxRequestBytes)).Decode(&req); err != nil {
		resp.Error = &RemoteError{Code: "bad_request", Message: fmt.Sprintf("%v: %v", ErrBadRequest, err)}
	} else {
		resp = srv.dispatch(ctx, req)
	}
	b, err := json.Marshal(resp)
	if err != nil {
		b, _ = json.Marshal(response{Error: &RemoteError{Code: "error", Message: "admin: encode answer: " + err.Error()}})
	}
	c.Write(append(b, '\n'))
}

func (srv *Server) dispatch(ctx context.Context, req request) (resp response) {
	srv.mu.RLock()
	fn := srv.handlers[req.Op]
	srv.mu.RUnlock()
	if fn == nil {
		return response{Error: &RemoteError{Code: "unknown_op", Message: fmt.Sprintf("%v %q", ErrUnknownOp, req.Op)}}
	}
	defer func() {
		if p := recover(); p != nil {
			srv.logger.Error("admin: handler panicked", "op", req.Op, "panic", p)
			resp = response{Error: &RemoteError{Code: "error", Message: fmt.Sprintf("admin: %s failed: internal error", req.Op)}}
		}
	}()
	res, err := fn(ctx, req.Args)
	if err != nil {
		srv.logger.Debug("admin: request failed", "op", req.Op, "err", err)
		return response{Error: &RemoteError{Code: codeOf(err), Message: err.Error()}}
	}
	b, err := json.Marshal(res)
	if err != nil {
		return response{Error: &RemoteError{Code: "error", Message: "admin: encode result: " + err.Error()}}
	}
	srv.logger.Info("admin: request", "op", req.Op)
	return response{Result: b}
}
