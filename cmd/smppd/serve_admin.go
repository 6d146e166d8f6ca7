package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/smppd/smppd/internal/admin"
	"github.com/smppd/smppd/internal/gateway"
	"github.com/smppd/smppd/internal/msgstore"
	"github.com/smppd/smppd/internal/upstream"
	"github.com/smppd/smppd/smppd"
	"github.com/smppd/smppd/tokenstore"
)

// Admin socket operations the daemon adds beside the token ones.
const (
	opSessionsList = "sessions.list"
	opSessionsKick = "sessions.kick"
	opStatus       = "status"
	opBackup       = "backup"
)

// receiptCountCap bounds the per-token receipt count of sessions list and
// status: counting reads the queue, and "more than 10000 waiting" is all an
// operator needs to know.
const receiptCountCap = 10000

// sessionInfo is one row of `smppd sessions list`.
type sessionInfo struct {
	ID          uint64    `json:"id"`
	Token       string    `json:"token"`
	TokenID     string    `json:"token_id"`
	SystemID    string    `json:"system_id"`
	BindType    string    `json:"bind_type"`
	State       string    `json:"state"`
	Remote      string    `json:"remote"`
	BoundAt     time.Time `json:"bound_at,omitzero"`
	Submits     uint64    `json:"submits"`
	WindowInUse int       `json:"window_in_use"`   // deliver_sm awaiting the client's answer
	Pending     int       `json:"pending_answers"` // client requests not answered yet
	// ReceiptsPending is the token's queued receipts (all its receivers
	// share them), counted up to receiptCountCap.
	ReceiptsPending int  `json:"receipts_pending"`
	TLS             bool `json:"tls"`
}

// tokenReceipts is one token's receipt queue in `smppd status`.
type tokenReceipts struct {
	TokenID string `json:"token_id"`
	Token   string `json:"token"` // name; empty when the token was deleted
	// Waiting is counted up to receiptCountCap; Capped says the queue is
	// longer.
	Waiting int       `json:"waiting"`
	Capped  bool      `json:"capped,omitempty"`
	Oldest  time.Time `json:"oldest_queued_at,omitzero"`
}

// statusInfo is `smppd status`.
type statusInfo struct {
	Version       string    `json:"version"`
	StartedAt     time.Time `json:"started_at"`
	UptimeSeconds float64   `json:"uptime_seconds"`
	DataDir       string    `json:"data_dir"`
	StoreBytes    int64     `json:"store_bytes"`  // messages.db
	TokensBytes   int64     `json:"tokens_bytes"` // tokens.db
	Sessions      int       `json:"sessions"`
	Bound         int       `json:"bound_sessions"`
	Messages      int       `json:"messages"`
	Pending       int       `json:"pending_test_messages"`
	Receipts      int       `json:"receipts_waiting"`
	Callbacks     int       `json:"callbacks_waiting"`
	CallbacksGone int       `json:"callbacks_failed"`
	Outbox        int       `json:"outbox"`
	CommitQueue   int       `json:"commit_queue"`
	CommitErrors  uint64    `json:"commit_errors"`
	// ReceiptsByToken lists the tokens with receipts waiting, most first.
	ReceiptsByToken []tokenReceipts `json:"receipts_by_token"`
	// Upstreams is the upstream connector's view; nil when none is wired.
	Upstreams *upstream.Status `json:"upstreams,omitempty"`
}

// backupArgs and backupResult are the backup operation's request and answer.
type backupArgs struct {
	Dir string `json:"dir"` // absolute; created by the daemon, must not hold the files already
}

type backupFile struct {
	Path  string `json:"path"`
	Bytes int64  `json:"bytes"`
}

type backupResult struct {
	Files []backupFile `json:"files"`
}

// adminDeps are what the sessions, status and backup operations read.
type adminDeps struct {
	srv     *smppd.Server
	store   *msgstore.Store
	tokens  *tokenstore.Store
	dataDir string
	started time.Time
	// upstreams reports the upstream connector; nil when none runs.
	upstreams func() upstream.Status
}

// countReceipts counts tokenID's queued receipts up to receiptCountCap and
// returns the oldest one's queue time.
func countReceipts(store *msgstore.Store, tokenID string) (tokenReceipts, error) {
	rs, err := store.Receipts(tokenID, 0, receiptCountCap+1)
	if err != nil {
		return tokenReceipts{}, err
	}
	tr := tokenReceipts{TokenID: tokenID, Waiting: min(len(rs), receiptCountCap), Capped: len(rs) > receiptCountCap}
	if len(rs) > 0 {
		tr.Oldest = rs[0].QueuedAt
	}
	return tr, nil
}

func sessionRow(s *smppd.Session) sessionInfo {
	id := s.Identity()
	row := sessionInfo{
		ID: s.ID(), Token: id.Name, TokenID: id.ID, SystemID: s.SystemID(),
		BindType: s.BindType().String(), State: s.State().String(), Remote: s.RemoteAddr().String(),
		BoundAt: s.BoundAt(), WindowInUse: s.Outstanding(), Pending: s.Pending(),
	}
	row.Submits, _ = gateway.SessionSubmits(s)
	_, row.TLS = s.TLSConnectionState()
	return row
}

func fileSize(path string) int64 {
	if fi, err := os.Stat(path); err == nil {
		return fi.Size()
	}
	return 0
}

// registerAdminOps adds the sessions, status and backup operations to the
// admin socket.
func registerAdminOps(adm *admin.Server, d adminDeps) {
	adm.Handle(opSessionsList, func(context.Context, json.RawMessage) (any, error) {
		rows := []sessionInfo{}
		counts := map[string]int{} // one count per token, shared by its sessions
		for _, s := range d.srv.Sessions() {
			row := sessionRow(s)
			if row.TokenID != "" {
				n, ok := counts[row.TokenID]
				if !ok {
					tr, err := countReceipts(d.store, row.TokenID)
					if err != nil {
						return nil, err
					}
					n = tr.Waiting
					counts[row.TokenID] = n
				}
				row.ReceiptsPending = n
			}
			rows = append(rows, row)
		}
		return rows, nil
	})
	adm.Handle(opSessionsKick, func(_ context.Context, req json.RawMessage) (any, error) {
		var args struct {
			ID uint64 `json:"id"`
		}
		if err := json.Unmarshal(req, &args); err != nil {
			return nil, fmt.Errorf("%w: %v", admin.ErrBadRequest, err)
		}
		for _, s := range d.srv.Sessions() {
			if s.ID() == args.ID {
				row := sessionRow(s)
				go s.Unbind()
				return row, nil
			}
		}
		return nil, fmt.Errorf("no session with id %d (see 'smppd sessions list')", args.ID)
	})
	adm.Handle(opStatus, func(context.Context, json.RawMessage) (any, error) {
		st := d.store.Stats()
		info := statusInfo{
			Version: version(), StartedAt: d.started, UptimeSeconds: time.Since(d.started).Seconds(),
			DataDir: d.dataDir, Messages: st.Messages, Pending: st.Pending, Receipts: st.Receipts,
			Callbacks: st.Callbacks, CallbacksGone: st.CallbacksFailed, Outbox: st.Outbox,
			CommitQueue: st.Queued, CommitErrors: st.CommitErrors,
			StoreBytes:      fileSize(filepath.Join(d.dataDir, "messages.db")),
			TokensBytes:     fileSize(filepath.Join(d.dataDir, "tokens.db")),
			ReceiptsByToken: []tokenReceipts{},
		}
		for _, s := range d.srv.Sessions() {
			info.Sessions++
			if s.State() == smppd.StateBound {
				info.Bound++
			}
		}
		ids, err := d.store.PendingTokens()
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			tr, err := countReceipts(d.store, id)
			if err != nil {
				return nil, err
			}
			if t, err := d.tokens.Get(id); err == nil {
				tr.Token = t.Name
			}
			info.ReceiptsByToken = append(info.ReceiptsByToken, tr)
		}
		sortReceipts(info.ReceiptsByToken)
		if d.upstreams != nil {
			u := d.upstreams()
			info.Upstreams = &u
		}
		return info, nil
	})
	adm.Handle(opBackup, func(_ context.Context, req json.RawMessage) (any, error) {
		var args backupArgs
		if err := json.Unmarshal(req, &args); err != nil {
			return nil, fmt.Errorf("%w: %v", admin.ErrBadRequest, err)
		}
		return backup(args.Dir, d.dataDir, []backupSource{{"tokens.db", d.tokens}, {"messages.db", d.store}})
	})
}

// sortReceipts orders the longest queues first, then by token id.
func sortReceipts(rs []tokenReceipts) {
	for i := 1; i < len(rs); i++ {
		for j := i; j > 0 && (rs[j].Waiting > rs[j-1].Waiting || rs[j].Waiting == rs[j-1].Waiting && rs[j].TokenID < rs[j-1].TokenID); j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
}

// errNoHotBackup is returned when a store cannot write a consistent copy
// while open.
var errNoHotBackup = errors.New("this build's stores cannot write a hot copy: stop the daemon and copy the data directory")

// backupSource is one store to copy: it writes a consistent copy of itself
// when it is an io.WriterTo (bbolt's Tx.WriteTo inside one read
// transaction).
type backupSource struct {
	name string
	src  any
}

// backup writes a consistent copy of each source (while the daemon keeps
// serving) and of dataDir's master key into dir, which must not exist yet
// or be empty. Files are written under a temporary name, synced and
// renamed, so a file in dir is always complete.
func backup(dir, dataDir string, sources []backupSource) (backupResult, error) {
	for _, s := range sources {
		if _, ok := s.src.(io.WriterTo); !ok {
			return backupResult{}, errNoHotBackup // before creating anything
		}
	}
	if !filepath.IsAbs(dir) {
		return backupResult{}, fmt.Errorf("backup directory %q must be absolute", dir)
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return backupResult{}, fmt.Errorf("backup directory %s is not empty: choose a new one", dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return backupResult{}, err
	}
	var res backupResult
	for _, s := range sources {
		w := s.src.(io.WriterTo) // checked above
		f, err := writeAtomically(filepath.Join(dir, s.name), w.WriteTo)
		if err != nil {
			return res, fmt.Errorf("backing up %s: %w", s.name, err)
		}
		res.Files = append(res.Files, f)
	}
	key, err := os.ReadFile(filepath.Join(dataDir, tokenstore.MasterKeyFile))
	if err != nil {
		return res, fmt.Errorf("backing up the master key: %w", err)
	}
	f, err := writeAtomically(filepath.Join(dir, tokenstore.MasterKeyFile), func(w io.Writer) (int64, error) {
		n, err := w.Write(key)
		return int64(n), err
	})
	if err != nil {
		return res, fmt.Errorf("backing up the master key: %w", err)
	}
	res.Files = append(res.Files, f)
	// The renames are durable once the directory is synced.
	if d, err := os.Open(dir); err == nil {
		err = d.Sync()
		d.Close()
		if err != nil {
			return res, fmt.Errorf("syncing %s: %w", dir, err)
		}
	}
	return res, nil
}

// writeAtomically writes path through write into path+".tmp" (mode 0600),
// syncs it and renames it into place.
func writeAtomically(path string, write func(io.Writer) (int64, error)) (backupFile, error) {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return backupFile{}, err
	}
	n, err := write(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return backupFile{}, err
	}
	return backupFile{Path: path, Bytes: n}, nil
}
