package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/smppd/smppd/internal/admin"
	"github.com/smppd/smppd/internal/msgstore"
)

// opCallbackFailures answers a token's given-up HTTP callbacks.
const opCallbackFailures = "callbacks.failures"

// callbackFailures is what `smppd token show` tells about a token's HTTP
// delivery reports that were given up.
type callbackFailures struct {
	Count      int       `json:"count"`
	LastAt     time.Time `json:"last_at,omitzero"`
	LastReason string    `json:"last_reason,omitempty"`
}

// registerCallbackOps adds the callbacks.failures operation to the daemon's
// admin socket.
func registerCallbackOps(adm *admin.Server, store *msgstore.Store) {
	adm.Handle(opCallbackFailures, func(_ context.Context, req json.RawMessage) (any, error) {
		var args struct {
			TokenID string `json:"token_id"`
		}
		if err := json.Unmarshal(req, &args); err != nil || args.TokenID == "" {
			return nil, fmt.Errorf("%w: token_id required", admin.ErrBadRequest)
		}
		return readCallbackFailures(store, args.TokenID)
	})
}

func readCallbackFailures(store *msgstore.Store, tokenID string) (callbackFailures, error) {
	n, at, reason, err := store.CallbackFailures(tokenID)
	return callbackFailures{Count: n, LastAt: at, LastReason: reason}, err
}

// lookupCallbackFailures asks the daemon, or reads messages.db when no
// daemon runs; a data directory without a message store has none.
func lookupCallbackFailures(ctx context.Context, g *globalOptions, tokenID string) (callbackFailures, error) {
	var cf callbackFailures
	err := daemonClient(g).Call(ctx, opCallbackFailures, map[string]string{"token_id": tokenID}, &cf)
	if err == nil || !errors.Is(err, admin.ErrNoDaemon) {
		return cf, err
	}
	path := filepath.Join(g.DataDir, "messages.db")
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return cf, nil
	}
	store, err := msgstore.Open(path, msgstore.Options{})
	if err != nil {
		return cf, err
	}
	defer store.Close()
	return readCallbackFailures(store, tokenID)
}

func callbackFailuresText(cf callbackFailures) string {
	if cf.Count == 0 {
		return "0"
	}
	return fmt.Sprintf("%d (last %s: %s)", cf.Count, tokenTimeText(cf.LastAt, "-"), tokenOr(cf.LastReason, "-"))
}
