package tokenstore

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/netip"
	"time"

	bolt "go.etcd.io/bbolt"
)

// cacheEntry remembers that a password was verified for a token at a
// given revision. Any change to the token bumps its revision, so a stale
// entry never matches even before forget removes it.
type cacheEntry struct {
	revision uint64
	mac      [sha256.Size]byte // HMAC(s.macKey, password): the password itself is not kept
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func (s *Store) passwordMAC(password string) [sha256.Size]byte {
	m := hmac.New(sha256.New, s.macKey)
	m.Write([]byte(password))
	var out [sha256.Size]byte
	m.Sum(out[:0])
	return out
}

// forget drops the cached verification of a token.
func (s *Store) forget(id string) {
	s.cacheMu.Lock()
	delete(s.cache, id)
	s.cacheMu.Unlock()
}

// Authenticate decides an SMPP bind.
//
// An unknown system_id, a wrong password, a revoked token and a token
// without the SMPP permission all give ErrInvalidCredentials (the server
// answers ESME_RINVPASWD), so system_ids cannot be enumerated: an unknown
// system_id runs the KDF against a dummy hash. A bind from an address the
// token does not allow gives an error wrapping ErrBindRefused (the server
// answers ESME_RBINDFAIL); it is checked after the password, so the allow
// list is not revealed to someone without it. Token.Limits.MaxBinds is left
// to the caller, which knows the live sessions.
//
// A successful verification is cached in memory, so rebinding clients do
// not pay the KDF again; a rotation, revocation or update invalidates it.
func (s *Store) Authenticate(systemID, password string, remote netip.Addr) (Token, error) {
	s.dummyOnce.Do(func() {
		s.dummy, _ = parseHash(hashPassword(randomString(passwordAlphabet, ShortPasswordLen), s.kdf))
	})
	var rec record
	var found bool
	err := s.db.View(func(tx *bolt.Tx) error {
		id := tx.Bucket(bucketSystemID).Get([]byte(systemID))
		if id == nil {
			return nil
		}
		var err error
		rec, err = getRecord(tx, string(id))
		found = err == nil
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		return err
	})
	if err != nil {
		return Token{}, err
	}
	if len(password) > MaxPasswordLen {
		// Longer than any password we issue: do the same work, then fail.
		found = false
	}
	if !found || rec.PasswordHash == "" {
		s.verifySlow(s.dummy, password)
		return Token{}, ErrInvalidCredentials
	}
	mac := s.passwordMAC(password)
	s.cacheMu.Lock()
	ce, cached := s.cache[rec.ID]
	s.cacheMu.Unlock()
	ok := cached && ce.revision == rec.Revision && hmac.Equal(ce.mac[:], mac[:])
	if !ok {
		h, err := parseHash(rec.PasswordHash)
		if err != nil {
			s.logger.Error("tokenstore: unreadable password hash", "token", rec.ID, "err", err)
			s.verifySlow(s.dummy, password)
			return Token{}, ErrInvalidCredentials
		}
		if !s.verifySlow(h, password) {
			return Token{}, ErrInvalidCredentials
		}
		s.cacheMu.Lock()
		s.cache[rec.ID] = cacheEntry{revision: rec.Revision, mac: mac}
		s.cacheMu.Unlock()
	}
	if !rec.Active() || !rec.Permissions.SMPP {
		return Token{}, ErrInvalidCredentials
	}
	if !rec.Limits.AllowsIP(remote) {
		return Token{}, fmt.Errorf("%w: address %s not allowed for token %s", ErrBindRefused, remote, rec.Name)
	}
	return s.withPendingBind(rec.Token), nil
}

// verifySlow runs the KDF under the semaphore.
func (s *Store) verifySlow(h parsedHash, password string) bool {
	s.kdfSem <- struct{}{}
	defer func() { <-s.kdfSem }()
	s.kdfRuns.Add(1)
	return h.verify(password)
}

// MarkBound records that token id bound at at. It only touches memory;
// the times are written in one transaction after Options.MarkBoundDelay
// (and at Close), so it is cheap to call on every bind. Get and List see
// the buffered time at once.
func (s *Store) MarkBound(id string, at time.Time) error {
	s.bindMu.Lock()
	defer s.bindMu.Unlock()
	if s.closed {
		return ErrClosed
	}
	at = at.UTC()
	if prev, ok := s.pendingBinds[id]; !ok || at.After(prev) {
		s.pendingBinds[id] = at
	}
	if s.bindTimer == nil {
		s.bindTimer = time.AfterFunc(s.bindDelay, s.backgroundFlush)
	}
	return nil
}

func (s *Store) backgroundFlush() {
	s.bindMu.Lock()
	s.bindTimer = nil
	closed := s.closed
	s.bindMu.Unlock()
	if closed {
		return // Close flushes
	}
	if err := s.flushBinds(); err != nil {
		s.logger.Warn("tokenstore: writing last bind times", "err", err)
	}
}

// flushBinds writes buffered last-bind times. It does not change a
// token's revision or updated_at: a bind is not an edit.
func (s *Store) flushBinds() error {
	// flushMu makes Close wait for a background flush in progress, and a
	// background flush that starts after Close find nothing to write.
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	s.bindMu.Lock()
	pending := s.pendingBinds
	s.pendingBinds = make(map[string]time.Time)
	s.bindMu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		for id, at := range pending {
			rec, err := getRecord(tx, id)
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if !at.After(rec.LastBindAt) {
				continue
			}
			rec.LastBindAt = at
			if err := putRecord(tx, &rec); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		// Put them back so that a later flush retries.
		s.bindMu.Lock()
		for id, at := range pending {
			if prev, ok := s.pendingBinds[id]; !ok || at.After(prev) {
				s.pendingBinds[id] = at
			}
		}
		s.bindMu.Unlock()
	}
	return err
}

func (s *Store) withPendingBind(t Token) Token {
	s.bindMu.Lock()
	at, ok := s.pendingBinds[t.ID]
	s.bindMu.Unlock()
	if ok && at.After(t.LastBindAt) {
		t.LastBindAt = at
	}
	return t
}
