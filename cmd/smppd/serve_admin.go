package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/smppd/smppd/internal/admin"
	"github.com/smppd/smppd/internal/gateway"
	"github.com/smppd/smppd/internal/msgstore"
	"github.com/smppd/smppd/smppd"
)

// Admin socket operations the daemon adds beside the token ones.
const (
	opSessionsList = "sessions.list"
	opSessionsKick = "sessions.kick"
	opStatus       = "status"
)

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
	TLS         bool      `json:"tls"`
}

// statusInfo is `smppd status`.
type statusInfo struct {
	Version       string    `json:"version"`
	StartedAt     time.Time `json:"started_at"`
	UptimeSeconds float64   `json:"uptime_seconds"`
	DataDir       string    `json:"data_dir"`
	StoreBytes    int64     `json:"store_bytes"`
	Sessions      int       `json:"sessions"`
	Bound         int       `json:"bound_sessions"`
	Messages      int       `json:"messages"`
	Pending       int       `json:"pending_test_messages"`
	Receipts      int       `json:"receipts_waiting"`
	Callbacks     int       `json:"callbacks_waiting"`
	Outbox        int       `json:"outbox"`
	CommitQueue   int       `json:"commit_queue"`
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

// registerAdminOps adds the sessions and status operations to the admin
// socket.
func registerAdminOps(adm *admin.Server, srv *smppd.Server, store *msgstore.Store, dataDir, dbPath string, started time.Time) {
	adm.Handle(opSessionsList, func(context.Context, json.RawMessage) (any, error) {
		rows := []sessionInfo{}
		for _, s := range srv.Sessions() {
			rows = append(rows, sessionRow(s))
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
		for _, s := range srv.Sessions() {
			if s.ID() == args.ID {
				row := sessionRow(s)
				go s.Unbind()
				return row, nil
			}
		}
		return nil, fmt.Errorf("no session with id %d", args.ID)
	})
	adm.Handle(opStatus, func(context.Context, json.RawMessage) (any, error) {
		st := store.Stats()
		info := statusInfo{
			Version: version(), StartedAt: started, UptimeSeconds: time.Since(started).Seconds(),
			DataDir: dataDir, Messages: st.Messages, Pending: st.Pending, Receipts: st.Receipts,
			Callbacks: st.Callbacks, Outbox: st.Outbox, CommitQueue: st.Queued,
		}
		if fi, err := os.Stat(dbPath); err == nil {
			info.StoreBytes = fi.Size()
		}
		for _, s := range srv.Sessions() {
			info.Sessions++
			if s.State() == smppd.StateBound {
				info.Bound++
			}
		}
		return info, nil
	})
}
