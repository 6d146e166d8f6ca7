// Package tokenstore keeps smppd's API tokens in a bbolt file: their
// names, permissions, limits and the hashes of their credentials. Secrets
// are returned once, by Create and Rotate, and only their hashes are
// stored: SMPP passwords under argon2id, API keys under SHA-256 (they are
// long random strings). Authenticate decides SMPP binds.
//
// A Store is safe for concurrent use. One process at a time may open the
// file; Open fails with ErrLocked while another holds it.
package tokenstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Errors returned by the Store. Validation errors wrap one of them with a
// message naming the problem.
var (
	ErrNotFound           = errors.New("tokenstore: token not found")
	ErrDuplicateName      = errors.New("tokenstore: name already in use")
	ErrInvalidName        = errors.New("tokenstore: invalid name")
	ErrInvalidURL         = errors.New("tokenstore: invalid callback URL")
	ErrInvalidCIDR        = errors.New("tokenstore: invalid CIDR")
	ErrInvalidLimit       = errors.New("tokenstore: invalid limit")
	ErrNoPermission       = errors.New("tokenstore: a token needs at least one permission (smpp or http)")
	ErrNoSMPP             = errors.New("tokenstore: token has no SMPP permission")
	ErrRevoked            = errors.New("tokenstore: token is revoked")
	ErrInvalidCredentials = errors.New("tokenstore: invalid credentials")
	ErrBindRefused        = errors.New("tokenstore: bind refused")
	ErrLocked             = errors.New("tokenstore: token database is locked by another process")
	ErrClosed             = errors.New("tokenstore: store closed")
)

// Bucket names, in one place. Keys are strings (ids, names, system_ids)
// or SHA-256 digests; values of bucketTokens are JSON records.
var (
	bucketMeta     = []byte("meta")       // schemaKey → big-endian uint32
	bucketTokens   = []byte("tokens")     // id → record (JSON)
	bucketNames    = []byte("names")      // name → id (the newest token of that name)
	bucketSystemID = []byte("system_ids") // system_id → id
	bucketAPIKeys  = []byte("api_keys")   // sha256(api key) → id
	allBuckets     = [][]byte{bucketMeta, bucketTokens, bucketNames, bucketSystemID, bucketAPIKeys}

	schemaKey = []byte("schema_version")
)

// schemaVersion is the layout this code writes. migrations[v] upgrades a
// file from version v to v+1; Open runs the missing ones in one
// transaction. Version 0 is a new file.
const schemaVersion = 1

var migrations = map[uint32]func(tx *bolt.Tx) error{
	0: func(*bolt.Tx) error { return nil }, // new file: buckets are created by Open
}

// Options configure Open. The zero value is usable.
type Options struct {
	// Timeout is how long Open waits for the file lock (default 1s).
	Timeout time.Duration
	// KDF sets the argon2id parameters of new password hashes (default
	// DefaultKDFParams). Tests lower them; production should not.
	KDF KDFParams
	// MaxConcurrentKDF bounds password hashes computed at once, so a burst
	// of binds cannot exhaust memory (default 4).
	MaxConcurrentKDF int
	// MarkBoundDelay is how long MarkBound buffers last-bind times before
	// writing them (default 5s). Close writes what is buffered.
	MarkBoundDelay time.Duration
	// NoSync skips fsync; tests only.
	NoSync bool
	// Logger receives background write failures (default slog.Default()).
	Logger *slog.Logger
}

// Store is an open token database.
type Store struct {
	db     *bolt.DB
	path   string
	kdf    KDFParams
	logger *slog.Logger
	kdfSem chan struct{}
	// dummy is verified against when a system_id is unknown, so that an
	// unknown system_id costs as much as a wrong password. It is made by
	// the first Authenticate (whatever its outcome), not by Open, so that
	// the CLI does not pay a KDF run for nothing.
	dummyOnce sync.Once
	dummy     parsedHash
	// kdfRuns counts password verifications that ran the KDF (tests).
	kdfRuns atomic.Int64

	cacheMu sync.Mutex
	cache   map[string]cacheEntry // token id → last successful verification
	macKey  []byte                // keys the password MACs in cache; per process

	// generation counts the token edits (create, update, revoke, rotate) this Store
	// made; see Generation.
	generation atomic.Uint64

	flushMu      sync.Mutex
	bindMu       sync.Mutex
	pendingBinds map[string]time.Time
	bindTimer    *time.Timer
	bindDelay    time.Duration
	closed       bool
}

// record is what bucketTokens holds: the public token and the hashes.
type record struct {
	Token
	PasswordHash string `json:"password_hash,omitempty"`
	APIKeyHash   []byte `json:"api_key_hash,omitempty"`
}

// Open opens (creating if needed, mode 0600) the token database at path.
func Open(path string, o Options) (*Store, error) {
	if o.Timeout <= 0 {
		o.Timeout = time.Second
	}
	if o.KDF == (KDFParams{}) {
		o.KDF = DefaultKDFParams
	}
	if o.MaxConcurrentKDF <= 0 {
		o.MaxConcurrentKDF = 4
	}
	if o.MarkBoundDelay <= 0 {
		o.MarkBoundDelay = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: o.Timeout, NoSync: o.NoSync})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("%w: %s (is smppd serve running?)", ErrLocked, path)
	}
	if err != nil {
		return nil, fmt.Errorf("tokenstore: open %s: %w", path, err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		os.Chmod(path, 0o600) // an older or copied file: secrets' hashes are not for others
	}
	s := &Store{
		db:           db,
		path:         path,
		kdf:          o.KDF,
		logger:       o.Logger,
		kdfSem:       make(chan struct{}, o.MaxConcurrentKDF),
		cache:        make(map[string]cacheEntry),
		macKey:       randomBytes(32),
		pendingBinds: make(map[string]time.Time),
		bindDelay:    o.MarkBoundDelay,
	}
	if err := db.Update(s.initSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("tokenstore: open %s: %w", path, err)
	}
	return s, nil
}

func (s *Store) initSchema(tx *bolt.Tx) error {
	for _, b := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return err
		}
	}
	meta := tx.Bucket(bucketMeta)
	var v uint32
	if b := meta.Get(schemaKey); len(b) == 4 {
		v = binary.BigEndian.Uint32(b)
	}
	if v > schemaVersion {
		return fmt.Errorf("schema version %d is newer than this smppd understands (%d)", v, schemaVersion)
	}
	for ; v < schemaVersion; v++ {
		if m := migrations[v]; m != nil {
			if err := m(tx); err != nil {
				return fmt.Errorf("migrate schema %d→%d: %w", v, v+1, err)
			}
		}
	}
	return meta.Put(schemaKey, binary.BigEndian.AppendUint32(nil, schemaVersion))
}

// Path returns the file the store was opened from.
func (s *Store) Path() string { return s.path }

// Close writes buffered last-bind times and closes the file.
func (s *Store) Close() error {
	s.bindMu.Lock()
	if s.closed {
		s.bindMu.Unlock()
		return nil
	}
	s.closed = true
	if s.bindTimer != nil {
		s.bindTimer.Stop()
	}
	s.bindMu.Unlock()
	ferr := s.flushBinds()
	if err := s.db.Close(); err != nil {
		return err
	}
	return ferr
}

func (s *Store) now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// Create issues a new token and its credentials: an API key always, and
// an SMPP system_id and password with the SMPP permission.
func (s *Store) Create(ctx context.Context, p CreateParams) (Token, Secrets, error) {
	if err := ValidateName(p.Name); err != nil {
		return Token{}, Secrets{}, err
	}
	if !p.Permissions.SMPP && !p.Permissions.HTTP {
		return Token{}, Secrets{}, ErrNoPermission
	}
	if err := ValidateCallbackURL(p.CallbackURL); err != nil {
		return Token{}, Secrets{}, err
	}
	if err := validateLimits(p.Limits); err != nil {
		return Token{}, Secrets{}, err
	}
	now := s.now()
	rec := record{Token: Token{
		ID:           newID(),
		Name:         p.Name,
		Permissions:  p.Permissions,
		TestMode:     p.TestMode,
		CallbackURL:  p.CallbackURL,
		Limits:       Limits{MaxBinds: p.Limits.MaxBinds, MaxTPS: p.Limits.MaxTPS, AllowIPs: normalizePrefixes(p.Limits.AllowIPs)},
		LongPassword: p.LongPassword,
		CreatedAt:    now,
		UpdatedAt:    now,
		Revision:     1,
	}}
	var sec Secrets
	sec.APIKey = newAPIKey(p.TestMode)
	rec.APIKeyHash = apiKeyHash(sec.APIKey)
	rec.APIKeyPrefix = apiKeyDisplayPrefix(sec.APIKey)
	if p.Permissions.SMPP {
		sec.Password = newPassword(p.LongPassword)
		h, err := s.hash(ctx, sec.Password)
		if err != nil {
			return Token{}, Secrets{}, err
		}
		rec.PasswordHash = h
	}
	err := s.update(func(tx *bolt.Tx) error {
		if err := claimName(tx, rec.Name, rec.ID); err != nil {
			return err
		}
		if p.Permissions.SMPP {
			rec.SystemID = claimSystemID(tx, rec.Name, rec.ID)
		}
		if err := tx.Bucket(bucketAPIKeys).Put(rec.APIKeyHash, []byte(rec.ID)); err != nil {
			return err
		}
		return putRecord(tx, &rec)
	})
	if err != nil {
		return Token{}, Secrets{}, err
	}
	return rec.Token, sec, nil
}

// hash computes a password hash under the KDF semaphore.
func (s *Store) hash(ctx context.Context, password string) (string, error) {
	select {
	case s.kdfSem <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-s.kdfSem }()
	return hashPassword(password, s.kdf), nil
}

// claimName points the name index at id, unless an active token other
// than id holds the name. A revoked token's name may be reused; the
// revoked token stays reachable by id.
func claimName(tx *bolt.Tx, name, id string) error {
	names := tx.Bucket(bucketNames)
	if holder := names.Get([]byte(name)); holder != nil && string(holder) != id {
		if old, err := getRecord(tx, string(holder)); err == nil && old.Active() {
			return fmt.Errorf("%w: %q", ErrDuplicateName, name)
		}
	}
	return names.Put([]byte(name), []byte(id))
}

// claimSystemID picks an unused system_id derived from name.
func claimSystemID(tx *bolt.Tx, name, id string) string {
	b := tx.Bucket(bucketSystemID)
	for {
		sid := newSystemID(name)
		if b.Get([]byte(sid)) == nil {
			b.Put([]byte(sid), []byte(id))
			return sid
		}
	}
}

func putRecord(tx *bolt.Tx, rec *record) error {
	v, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketTokens).Put([]byte(rec.ID), v)
}

// getRecord decodes a record; the JSON decode copies it out of the
// transaction's memory.
func getRecord(tx *bolt.Tx, id string) (record, error) {
	v := tx.Bucket(bucketTokens).Get([]byte(id))
	if v == nil {
		return record{}, ErrNotFound
	}
	var rec record
	if err := json.Unmarshal(v, &rec); err != nil {
		return record{}, fmt.Errorf("tokenstore: token %s: %w", id, err)
	}
	return rec, nil
}

// resolve finds a record by id or, failing that, by name.
func resolve(tx *bolt.Tx, idOrName string) (record, error) {
	if looksLikeID(idOrName) {
		if rec, err := getRecord(tx, idOrName); !errors.Is(err, ErrNotFound) {
			return rec, err
		}
	}
	if id := tx.Bucket(bucketNames).Get([]byte(idOrName)); id != nil {
		return getRecord(tx, string(id))
	}
	return record{}, fmt.Errorf("%w: %q", ErrNotFound, idOrName)
}

// update runs fn in a write transaction as a token edit: the generation moves on
// whether or not it committed (a reader only re-reads once more for nothing).
func (s *Store) update(fn func(tx *bolt.Tx) error) error {
	defer s.generation.Add(1)
	return s.db.Update(fn)
}

// Generation changes after every create, update, revoke and rotate made through this
// Store, so a caller may keep tokens it read while the generation it read them at is
// current. That covers every edit: the Store holds the file's lock, so no other
// process writes it (the CLI edits through the daemon's admin socket). Recorded bind
// times do not count: they are not edits.
func (s *Store) Generation() uint64 { return s.generation.Load() }

// Get returns the token with the given id or name.
func (s *Store) Get(idOrName string) (Token, error) {
	var rec record
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		rec, err = resolve(tx, idOrName)
		return err
	})
	if err != nil {
		return Token{}, err
	}
	return s.withPendingBind(rec.Token), nil
}

// List returns every token, revoked ones included, oldest first.
func (s *Store) List() ([]Token, error) {
	var out []Token
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTokens).ForEach(func(k, v []byte) error {
			var rec record
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("tokenstore: token %s: %w", k, err)
			}
			out = append(out, s.withPendingBind(rec.Token))
			return nil
		})
	})
	slices.SortStableFunc(out, func(a, b Token) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, err
}

// Update changes a token. Enabling SMPP on a token that never had SMPP
// credentials issues them, and the password is returned in Secrets (empty
// otherwise). Removing SMPP keeps the credentials, so re-enabling it
// restores the same system_id and password. A revoked token cannot change
// (ErrRevoked).
func (s *Store) Update(idOrName string, p UpdateParams) (Token, Secrets, error) {
	if p.Name != nil {
		if err := ValidateName(*p.Name); err != nil {
			return Token{}, Secrets{}, err
		}
	}
	if p.CallbackURL != nil {
		if err := ValidateCallbackURL(*p.CallbackURL); err != nil {
			return Token{}, Secrets{}, err
		}
	}
	var newLimits Limits
	if p.MaxBinds != nil {
		newLimits.MaxBinds = *p.MaxBinds
	}
	if p.MaxTPS != nil {
		newLimits.MaxTPS = *p.MaxTPS
	}
	if p.AllowIPs != nil {
		newLimits.AllowIPs = *p.AllowIPs
	}
	if err := validateLimits(newLimits); err != nil {
		return Token{}, Secrets{}, err
	}
	// The password (if one must be issued) is hashed before the write
	// transaction, which must stay short.
	var sec Secrets
	var pendingHash string
	if p.SMPP != nil && *p.SMPP {
		cur, err := s.Get(idOrName)
		if err != nil {
			return Token{}, Secrets{}, err
		}
		if cur.SystemID == "" {
			sec.Password = newPassword(cur.LongPassword)
			if pendingHash, err = s.hash(context.Background(), sec.Password); err != nil {
				return Token{}, Secrets{}, err
			}
		}
	}
	var out record
	err := s.update(func(tx *bolt.Tx) error {
		rec, err := resolve(tx, idOrName)
		if err != nil {
			return err
		}
		if !rec.Active() {
			return fmt.Errorf("%w: %q", ErrRevoked, idOrName)
		}
		if p.Name != nil && *p.Name != rec.Name {
			if err := claimName(tx, *p.Name, rec.ID); err != nil {
				return err
			}
			names := tx.Bucket(bucketNames)
			if id := names.Get([]byte(rec.Name)); string(id) == rec.ID {
				names.Delete([]byte(rec.Name))
			}
			rec.Name = *p.Name
		}
		if p.CallbackURL != nil {
			rec.CallbackURL = *p.CallbackURL
		}
		if p.TestMode != nil {
			rec.TestMode = *p.TestMode
		}
		if p.SMPP != nil {
			rec.Permissions.SMPP = *p.SMPP
		}
		if p.HTTP != nil {
			rec.Permissions.HTTP = *p.HTTP
		}
		if !rec.Permissions.SMPP && !rec.Permissions.HTTP {
			return ErrNoPermission
		}
		if rec.Permissions.SMPP && rec.SystemID == "" {
			if pendingHash == "" { // raced with another update; not worth a retry loop
				return fmt.Errorf("tokenstore: token %q changed concurrently; retry", idOrName)
			}
			rec.PasswordHash = pendingHash
			rec.SystemID = claimSystemID(tx, rec.Name, rec.ID)
		} else {
			sec.Password = ""
		}
		if p.MaxBinds != nil {
			rec.Limits.MaxBinds = *p.MaxBinds
		}
		if p.MaxTPS != nil {
			rec.Limits.MaxTPS = *p.MaxTPS
		}
		if p.AllowIPs != nil {
			rec.Limits.AllowIPs = normalizePrefixes(*p.AllowIPs)
		}
		rec.UpdatedAt = s.now()
		rec.Revision++
		out = rec
		return putRecord(tx, &rec)
	})
	if err != nil {
		return Token{}, Secrets{}, err
	}
	s.forget(out.ID)
	return s.withPendingBind(out.Token), sec, nil
}

// Revoke ends a token for good: it can no longer bind or send, and its
// name may be given to a new token. Revoking a revoked token returns it
// unchanged.
func (s *Store) Revoke(idOrName string) (Token, error) {
	var out record
	err := s.update(func(tx *bolt.Tx) error {
		rec, err := resolve(tx, idOrName)
		if err != nil {
			return err
		}
		out = rec
		if !rec.Active() {
			return nil
		}
		now := s.now()
		rec.RevokedAt = now
		rec.UpdatedAt = now
		rec.Revision++
		out = rec
		return putRecord(tx, &rec)
	})
	if err != nil {
		return Token{}, err
	}
	s.forget(out.ID)
	return s.withPendingBind(out.Token), nil
}

// Rotate replaces credentials (see RotateParams). The old ones stop
// working at once for new binds and API calls; sessions already bound
// stay bound (the daemon decides, see admin.Hooks).
func (s *Store) Rotate(idOrName string, p RotateParams) (Token, Secrets, error) {
	cur, err := s.Get(idOrName)
	if err != nil {
		return Token{}, Secrets{}, err
	}
	if !cur.Active() {
		return Token{}, Secrets{}, fmt.Errorf("%w: %q", ErrRevoked, idOrName)
	}
	if !p.SMPPPassword && !p.APIKey && !p.CallbackSecret {
		p.APIKey = true
		p.SMPPPassword = cur.Permissions.SMPP
	}
	if p.SMPPPassword && !cur.Permissions.SMPP {
		return Token{}, Secrets{}, fmt.Errorf("%w: %q", ErrNoSMPP, cur.Name)
	}
	var sec Secrets
	var pwHash string
	if p.SMPPPassword {
		sec.Password = newPassword(cur.LongPassword)
		if pwHash, err = s.hash(context.Background(), sec.Password); err != nil {
			return Token{}, Secrets{}, err
		}
	}
	var out record
	err = s.update(func(tx *bolt.Tx) error {
		rec, err := getRecord(tx, cur.ID)
		if err != nil {
			return err
		}
		if !rec.Active() {
			return fmt.Errorf("%w: %q", ErrRevoked, idOrName)
		}
		if p.SMPPPassword {
			rec.PasswordHash = pwHash
			if rec.SystemID == "" {
				rec.SystemID = claimSystemID(tx, rec.Name, rec.ID)
			}
		}
		if p.APIKey {
			keys := tx.Bucket(bucketAPIKeys)
			if len(rec.APIKeyHash) > 0 {
				keys.Delete(rec.APIKeyHash)
			}
			sec.APIKey = newAPIKey(rec.TestMode)
			rec.APIKeyHash = apiKeyHash(sec.APIKey)
			rec.APIKeyPrefix = apiKeyDisplayPrefix(sec.APIKey)
			if err := keys.Put(rec.APIKeyHash, []byte(rec.ID)); err != nil {
				return err
			}
		}
		if p.CallbackSecret {
			rec.CallbackSecretVersion++
		}
		rec.UpdatedAt = s.now()
		rec.Revision++
		out = rec
		return putRecord(tx, &rec)
	})
	if err != nil {
		return Token{}, Secrets{}, err
	}
	s.forget(out.ID)
	return s.withPendingBind(out.Token), sec, nil
}

// AuthenticateAPIKey returns the active token an API key belongs to, for
// the HTTP API. An unknown key, a revoked token and a token without the
// HTTP permission all give ErrInvalidCredentials.
func (s *Store) AuthenticateAPIKey(key string) (Token, error) {
	h := apiKeyHash(key)
	var rec record
	err := s.db.View(func(tx *bolt.Tx) error {
		id := tx.Bucket(bucketAPIKeys).Get(h)
		if id == nil {
			return ErrInvalidCredentials
		}
		var err error
		rec, err = getRecord(tx, string(id))
		return err
	})
	if errors.Is(err, ErrNotFound) {
		err = ErrInvalidCredentials
	}
	if err != nil {
		return Token{}, err
	}
	// Guard against a stale index entry: the record must hold this digest.
	if !bytes.Equal(rec.APIKeyHash, h) || !rec.Active() || !rec.Permissions.HTTP {
		return Token{}, ErrInvalidCredentials
	}
	return s.withPendingBind(rec.Token), nil
}
