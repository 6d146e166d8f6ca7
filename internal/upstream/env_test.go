package upstream_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/smppd/smppd/internal/gateway"
	"github.com/smppd/smppd/internal/msgstore"
	"github.com/smppd/smppd/internal/upstream"
	"github.com/smppd/smppd/pdu"
	"github.com/smppd/smppd/smppd"
	"github.com/smppd/smppd/tokenstore"
)

func TestMain(m *testing.M) {
	if crashChild() {
		return
	}
	goleak.VerifyTestMain(m)
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// node is a real smppd gateway: bbolt files under a temp dir, the smppd
// server on 127.0.0.1, and — when it has an upstream config — the
// connector and the MO dispatcher wired as serve.go wires them.
type node struct {
	t      *testing.T
	dir    string
	gcfg   gateway.Config
	ucfg   *upstream.Config
	tokens *tokenstore.Store
	store  *msgstore.Store
	gw     *gateway.Gateway
	conn   *upstream.Connector
	mo     *gateway.MODispatcher
	srv    *smppd.Server
	addr   string // kept across restarts
	done   chan struct{}
}

func newNode(t *testing.T, gcfg gateway.Config, ucfg *upstream.Config) *node {
	t.Helper()
	n := &node{t: t, dir: t.TempDir(), gcfg: gcfg, ucfg: ucfg}
	var err error
	n.tokens, err = tokenstore.Open(filepath.Join(n.dir, "tokens.db"), tokenstore.Options{
		KDF: tokenstore.KDFParams{Time: 1, Memory: 64, Threads: 1}, NoSync: true, Logger: quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.tokens.Close() })
	n.start()
	t.Cleanup(n.stop)
	return n
}

func (n *node) start() {
	t := n.t
	var err error
	n.store, err = msgstore.Open(filepath.Join(n.dir, "messages.db"), msgstore.Options{Logger: quietLogger(), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	cfg := n.gcfg
	cfg.Logger = quietLogger()
	n.gw = gateway.New(cfg, n.tokens, n.store)
	handler := smppd.Handler(n.gw)
	connState := n.gw.ConnState
	if n.ucfg != nil {
		n.mo = n.gw.NewMODispatcher()
		n.conn, err = upstream.New(upstream.Options{
			Config:   *n.ucfg,
			Store:    n.store,
			Reporter: n.gw,
			Tokens: func(idOrName string) (string, string, error) {
				tok, err := n.tokens.Get(idOrName)
				return tok.ID, tok.Name, err
			},
			TokensGeneration: n.tokens.Generation,
			OnMO:             n.mo.Wake,
			Logger:           quietLogger(),
		})
		if err != nil {
			t.Fatal(err)
		}
		handler = smppd.Chain(n.gw, n.gw.LiveRouting(n.conn.Routable, n.conn.Wake))
		mo := n.mo
		connState = func(s *smppd.Session, st smppd.ConnState) {
			n.gw.ConnState(s, st)
			mo.ConnState(s, st)
		}
	}
	n.srv = &smppd.Server{Handler: handler, Auth: n.gw, ConnState: connState, Logger: quietLogger(), WindowSize: 100}
	addr := n.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	l := listenRetry(t, addr)
	n.addr = l.Addr().String()
	n.gw.Start()
	if n.conn != nil {
		n.mo.Start()
		n.conn.Start()
	}
	n.done = make(chan struct{})
	go func() {
		defer close(n.done)
		if err := n.srv.Serve(l); !errors.Is(err, smppd.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	}()
}

// listenRetry listens on addr; a restart on the same port may need a moment.
func listenRetry(t *testing.T, addr string) net.Listener {
	t.Helper()
	var err error
	for i := 0; i < 100; i++ {
		var l net.Listener
		if l, err = net.Listen("tcp", addr); err == nil {
			return l
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("listen %s: %v", addr, err)
	return nil
}

// stop shuts the node down in serve.go's order: server, connector,
// dispatchers, gateway, store. kill instead closes every connection at once.
func (n *node) stop() { n.halt(false) }
func (n *node) kill() { n.halt(true) }

func (n *node) halt(abrupt bool) {
	if n.srv == nil {
		return
	}
	if abrupt {
		n.srv.Close()
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		n.srv.Shutdown(ctx)
		cancel()
	}
	<-n.done
	n.srv.Wait()
	if n.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := n.conn.Stop(ctx); err != nil {
			n.t.Errorf("connector Stop: %v", err)
		}
		cancel()
		n.mo.Stop()
	}
	n.gw.Stop()
	n.store.Close()
	n.srv = nil
}

func (n *node) token(name string, test bool) (tokenstore.Token, string) {
	n.t.Helper()
	tok, sec, err := n.tokens.Create(context.Background(), tokenstore.CreateParams{
		Name: name, Permissions: tokenstore.Permissions{SMPP: true}, TestMode: test,
	})
	if err != nil {
		n.t.Fatal(err)
	}
	return tok, sec.Password
}

// client is a minimal ESME on smppd's own codec: it sends requests and
// collects everything the server sends.
type client struct {
	t    *testing.T
	conn net.Conn
	r    *pdu.Reader
	mu   sync.Mutex
	seq  uint32
	resp map[uint32]chan frame
	in   chan frame // server-initiated requests (deliver_sm), already answered
	// answer is the status given to deliver_sm (default ESME_ROK).
	answer func(d *pdu.DeliverSM) pdu.Status
}

type frame struct {
	h pdu.Header
	p pdu.PDU
}

func dial(t *testing.T, addr string, cmd pdu.CommandID, systemID, password string) *client {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	cl := &client{t: t, conn: c, r: pdu.NewReader(c, 0), resp: make(map[uint32]chan frame), in: make(chan frame, 10000)}
	done := make(chan struct{})
	go cl.read(done)
	t.Cleanup(func() { c.Close(); <-done })
	if h, _ := cl.call(&pdu.Bind{Cmd: cmd, SystemID: systemID, Password: password, InterfaceVersion: 0x34}); h.Status != pdu.StatusOK {
		t.Fatalf("bind %s: %v", systemID, h.Status)
	}
	return cl
}

func (c *client) read(done chan struct{}) {
	defer close(done)
	for {
		h, body, err := c.r.ReadFrame()
		if err != nil {
			return
		}
		p, err := pdu.Decode(h, body)
		if err != nil {
			continue
		}
		switch {
		case h.ID.IsResponse():
			c.mu.Lock()
			ch := c.resp[h.Seq]
			delete(c.resp, h.Seq)
			c.mu.Unlock()
			if ch != nil {
				ch <- frame{h, p}
			}
		case h.ID == pdu.CmdEnquireLink:
			c.write(h.Seq, pdu.StatusOK, &pdu.EnquireLinkResp{})
		case h.ID == pdu.CmdDeliverSM:
			st := pdu.StatusOK
			if c.answer != nil {
				st = c.answer(p.(*pdu.DeliverSM))
			}
			c.write(h.Seq, st, &pdu.DeliverSMResp{})
			if st == pdu.StatusOK {
				c.in <- frame{h, p}
			}
		case h.ID == pdu.CmdUnbind:
			c.write(h.Seq, pdu.StatusOK, &pdu.UnbindResp{})
		}
	}
}

func (c *client) write(seq uint32, st pdu.Status, p pdu.PDU) {
	b, err := pdu.Append(nil, seq, st, p)
	if err != nil {
		c.t.Errorf("encode: %v", err)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.conn.Write(b)
}

// start sends p and returns the channel its response arrives on.
func (c *client) start(p pdu.PDU) chan frame {
	ch := make(chan frame, 1)
	c.mu.Lock()
	c.seq++
	seq := c.seq
	c.resp[seq] = ch
	c.mu.Unlock()
	c.write(seq, pdu.StatusOK, p)
	return ch
}

func (c *client) call(p pdu.PDU) (pdu.Header, pdu.PDU) {
	c.t.Helper()
	select {
	case f := <-c.start(p):
		return f.h, f.p
	case <-time.After(10 * time.Second):
		c.t.Fatalf("no response to %v", p.CommandID())
	}
	return pdu.Header{}, nil
}

// submit sends a submit_sm with registered_delivery 1 and returns the
// status and smppd's id.
func (c *client) submit(dest, text string) (pdu.Status, string) {
	c.t.Helper()
	h, p := c.call(&pdu.SubmitSM{
		Source:             pdu.Address{TON: pdu.TONAlphanumeric, Addr: "ACME"},
		Dest:               pdu.Address{TON: pdu.TONInternational, NPI: pdu.NPIISDN, Addr: dest},
		RegisteredDelivery: 1,
		ShortMessage:       []byte(text),
	})
	id := ""
	if r, ok := p.(*pdu.SubmitSMResp); ok {
		id = r.MessageID
	}
	return h.Status, id
}

// receipts waits for n receipts and returns them by receipted_message_id.
func (c *client) receipts(n int) map[string][]pdu.Receipt {
	c.t.Helper()
	out := make(map[string][]pdu.Receipt)
	timeout := time.After(30 * time.Second)
	for got := 0; got < n; {
		select {
		case f := <-c.in:
			d := f.p.(*pdu.DeliverSM)
			if d.ESMClass&0x04 == 0 {
				continue
			}
			rc, err := pdu.ParseReceipt(d.ShortMessage)
			if err != nil {
				c.t.Fatalf("receipt %q: %v", d.ShortMessage, err)
			}
			id, ok := d.TLVs.ReceiptedMessageID()
			if !ok || id != rc.ID {
				c.t.Fatalf("receipted_message_id %q, text id %q", id, rc.ID)
			}
			out[id] = append(out[id], rc)
			got++
		case <-timeout:
			c.t.Fatalf("got %d receipts, want %d", got, n)
		}
	}
	return out
}

// noMore checks that nothing else arrives for a short while (a duplicate
// receipt would).
func (c *client) noMore(d time.Duration) {
	c.t.Helper()
	select {
	case f := <-c.in:
		c.t.Errorf("unexpected %v: %+v", f.h.ID, f.p)
	case <-time.After(d):
	}
}

// waitFor polls cond until it holds (up to 30 s).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
