package gateway_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/smppd/smppd/internal/gateway"
	"github.com/smppd/smppd/internal/msgstore"
	"github.com/smppd/smppd/pdu"
	"github.com/smppd/smppd/smppd"
	"github.com/smppd/smppd/tokenstore"
)

// env is a real gateway: bbolt files under t.TempDir(), the smppd server on
// 127.0.0.1:0, the gateway as its Authenticator and Handler.
type env struct {
	t      *testing.T
	dir    string
	msgDir string // where messages.db lives (dir unless a test moves it)
	// maxQueue is the store's MaxQueue (0: its default).
	maxQueue int
	cfg      gateway.Config
	tokens   *tokenstore.Store
	store    *msgstore.Store
	gw       *gateway.Gateway
	srv      *smppd.Server
	addr     string
	done     chan struct{}
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newEnv(t *testing.T, cfg gateway.Config) *env {
	t.Helper()
	return newEnvIn(t, cfg, "")
}

// newEnvIn keeps messages.db in msgDir ("" = with the tokens).
func newEnvIn(t *testing.T, cfg gateway.Config, msgDir string) *env {
	t.Helper()
	return openEnv(&env{t: t, dir: t.TempDir(), cfg: cfg, msgDir: msgDir})
}

// openEnv opens the token store and starts e, set up as far as the caller
// wanted (t, dir and cfg at least).
func openEnv(e *env) *env {
	t := e.t
	t.Helper()
	if e.msgDir == "" {
		e.msgDir = e.dir
	}
	var err error
	e.tokens, err = tokenstore.Open(filepath.Join(e.dir, "tokens.db"), tokenstore.Options{
		KDF: tokenstore.KDFParams{Time: 1, Memory: 64, Threads: 1}, NoSync: true, Logger: quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.tokens.Close() })
	e.start()
	return e
}

// start opens the message store and serves; stop undoes it, so a test can
// restart the gateway on the same files.
func (e *env) start() {
	t := e.t
	var err error
	e.store, err = msgstore.Open(filepath.Join(e.msgDir, "messages.db"), msgstore.Options{Logger: quietLogger(), MaxQueue: e.maxQueue})
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.cfg
	cfg.Logger = quietLogger()
	if cfg.FailedBindDelay == 0 {
		cfg.FailedBindDelay = -1 // tests of the delay set it
	}
	e.gw = gateway.New(cfg, e.tokens, e.store)
	e.srv = &smppd.Server{
		Handler:   e.gw,
		Auth:      e.gw,
		ConnState: e.gw.ConnState,
		Logger:    quietLogger(),
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.addr = l.Addr().String()
	e.gw.Start()
	e.done = make(chan struct{})
	go func() {
		defer close(e.done)
		if err := e.srv.Serve(l); !errors.Is(err, smppd.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	}()
	t.Cleanup(e.stop)
}

func (e *env) stop() {
	if e.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	e.srv.Shutdown(ctx)
	<-e.done
	e.gw.Stop()
	e.store.Close()
	e.srv = nil
}

// token creates a token with the SMPP permission.
func (e *env) token(name string, test bool, mod func(*tokenstore.CreateParams)) (tokenstore.Token, string) {
	e.t.Helper()
	p := tokenstore.CreateParams{Name: name, Permissions: tokenstore.Permissions{SMPP: true}, TestMode: test}
	if mod != nil {
		mod(&p)
	}
	tok, sec, err := e.tokens.Create(context.Background(), p)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok, sec.Password
}

// rawClient is a minimal ESME on smppd's own codec, for exact statuses.
type rawClient struct {
	t    *testing.T
	conn net.Conn
	r    *pdu.Reader
	seq  uint32
	mu   sync.Mutex
}

func dialRaw(t *testing.T, addr string) *rawClient {
	t.Helper()
	return dialRawFrom(t, addr, "127.0.0.1")
}

// dialRawFrom connects from a chosen loopback address (Linux routes all of
// 127.0.0.0/8 to lo), to test per-address limits.
func dialRawFrom(t *testing.T, addr, local string) *rawClient {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawClient{t: t, conn: c, r: pdu.NewReader(c, 0)}
}

func (c *rawClient) send(p pdu.PDU) uint32 {
	c.t.Helper()
	c.mu.Lock()
	c.seq++
	seq := c.seq
	c.mu.Unlock()
	b, err := pdu.Append(nil, seq, pdu.StatusOK, p)
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := c.conn.Write(b); err != nil {
		c.t.Fatal(err)
	}
	return seq
}

// next reads the next PDU, answering enquire_link on the way.
func (c *rawClient) next() (pdu.Header, pdu.PDU) {
	c.t.Helper()
	for {
		c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		h, body, err := c.r.ReadFrame()
		if err != nil {
			c.t.Fatalf("read: %v", err)
		}
		p, err := pdu.Decode(h, body)
		if err != nil {
			c.t.Fatalf("decode %v: %v", h.ID, err)
		}
		if h.ID == pdu.CmdEnquireLink {
			b, _ := pdu.Append(nil, h.Seq, pdu.StatusOK, &pdu.EnquireLinkResp{})
			c.conn.Write(b)
			continue
		}
		return h, p
	}
}

// call sends p and waits for its response (anything else read meanwhile
// is a test failure, except enquire_link).
func (c *rawClient) call(p pdu.PDU) (pdu.Header, pdu.PDU) {
	c.t.Helper()
	seq := c.send(p)
	h, resp := c.next()
	if h.Seq != seq || h.ID != p.CommandID().Response() && h.ID != pdu.CmdGenericNack {
		c.t.Fatalf("after %v seq %d got %v seq %d", p.CommandID(), seq, h.ID, h.Seq)
	}
	return h, resp
}

func (c *rawClient) bind(cmd pdu.CommandID, systemID, password string) pdu.Status {
	c.t.Helper()
	h, _ := c.call(&pdu.Bind{Cmd: cmd, SystemID: systemID, Password: password, InterfaceVersion: 0x34})
	return h.Status
}

func (c *rawClient) ack(h pdu.Header) {
	b, _ := pdu.Append(nil, h.Seq, pdu.StatusOK, &pdu.DeliverSMResp{})
	c.conn.Write(b)
}

func submit(dest string, reg uint8) *pdu.SubmitSM {
	return &pdu.SubmitSM{
		Source:             pdu.Address{TON: pdu.TONInternational, NPI: pdu.NPIISDN, Addr: "15550001"},
		Dest:               pdu.Address{TON: pdu.TONInternational, NPI: pdu.NPIISDN, Addr: dest},
		RegisteredDelivery: reg,
		ShortMessage:       []byte("hello from the test"),
	}
}

func idOf(t *testing.T, p pdu.PDU) string {
	t.Helper()
	r, ok := p.(*pdu.SubmitSMResp)
	if !ok || r.MessageID == "" {
		t.Fatalf("no message id in %#v", p)
	}
	return r.MessageID
}

// receipt checks d is a well-formed receipt and returns its parsed text.
func receipt(t *testing.T, p pdu.PDU) (*pdu.DeliverSM, pdu.Receipt) {
	t.Helper()
	d, ok := p.(*pdu.DeliverSM)
	if !ok {
		t.Fatalf("got %T, want deliver_sm", p)
	}
	rc, err := pdu.ParseReceipt(d.ShortMessage)
	if err != nil {
		t.Fatalf("receipt text %q: %v", d.ShortMessage, err)
	}
	id, ok := d.TLVs.ReceiptedMessageID()
	if !ok || id != rc.ID {
		t.Fatalf("receipted_message_id %q, text id %q", id, rc.ID)
	}
	st, ok := d.TLVs.MessageState()
	if !ok || st != rc.Stat {
		t.Fatalf("message_state %v, text stat %v", st, rc.Stat)
	}
	return d, rc
}

var _ = fmt.Sprint
