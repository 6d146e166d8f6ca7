package msgstore

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/smppd/smppd/pdu"
)

// The upstream connector's part of the store (issue 6): the map from an upstream's message id
// back to smppd's, and the durable queue of inbound (MO) messages for a token's receivers. The
// buckets are created by the first write that needs them (this file does not touch Open), and a
// read finds nothing while they do not exist.
var (
	bucketFwd    = []byte("upstream_ids")     // fwdKey(upstream, id) → smppd id (8) ‖ expiry (8, unix ns)
	bucketFwdTTL = []byte("upstream_ids_ttl") // expiry (8) ‖ fwdKey → nil
	bucketMO     = []byte("mo")               // receiptKey(token, seq) → MO record; NextSequence is the seq
)

const moVersion = 1

// Forward records that an upstream accepted a live message (submit_sm_resp ESME_ROK).
type Forward struct {
	ID         uint64 // smppd's message id
	Upstream   string // the upstream's configured name
	UpstreamID string // the message id the upstream returned, already normalised by the caller
	// ExpireAt is when the mapping may be forgotten (the receipt is not expected any more).
	ExpireAt time.Time
}

func fwdKey(upstream, id string) []byte {
	k := make([]byte, 0, len(upstream)+1+len(id))
	k = append(k, upstream...)
	k = append(k, 0)
	return append(k, id...)
}

func bucketFor(tx *bolt.Tx, name []byte) (*bolt.Bucket, error) {
	b, err := tx.CreateBucketIfNotExists(name)
	if err != nil {
		return nil, &writeError{err}
	}
	return b, nil
}

// Forwarded commits, in one operation, that f.Upstream accepted message f.ID under
// f.UpstreamID: the message leaves the outbox (it is never submitted again, even after a crash)
// and the upstream's id maps to smppd's until f.ExpireAt. The message keeps its state (ENROUTE)
// until the upstream's receipt is reported. ErrNotFound for an unknown message, ErrFinal for one
// that reached a final state meanwhile (expired, cancelled), ErrExists for one no longer in the
// outbox (already forwarded), ErrInvalid for an empty upstream or id.
func (s *Store) Forwarded(f Forward, done func(error)) {
	if f.Upstream == "" || f.UpstreamID == "" || len(f.Upstream) > maxToken || len(f.UpstreamID) > maxToken {
		go done(fmt.Errorf("%w: forward %q/%q", ErrInvalid, f.Upstream, f.UpstreamID))
		return
	}
	if err := checkTime("ExpireAt", f.ExpireAt); err != nil {
		go done(err)
		return
	}
	key := fwdKey(f.Upstream, f.UpstreamID)
	val := binary.BigEndian.AppendUint64(u64(f.ID), uint64(max(unixNano(f.ExpireAt), 0)))
	ttlKey := append(binary.BigEndian.AppendUint64(nil, uint64(max(unixNano(f.ExpireAt), 0))), key...)
	s.enqueue(op{done: done, apply: func(tx *bolt.Tx, d *delta) error {
		m, err := getMessage(tx, f.ID)
		if err != nil {
			return err
		}
		if m.Final {
			return fmt.Errorf("%w: message %d", ErrFinal, f.ID)
		}
		if !m.Outbox {
			return fmt.Errorf("%w: message %d already forwarded", ErrExists, f.ID)
		}
		// Writes from here on.
		if err := unindex(tx, &m, d); err != nil {
			return err
		}
		if err := putMessage(tx, &m); err != nil {
			return err
		}
		fwd, err := bucketFor(tx, bucketFwd)
		if err != nil {
			return err
		}
		ttl, err := bucketFor(tx, bucketFwdTTL)
		if err != nil {
			return err
		}
		if old := fwd.Get(key); len(old) == 16 {
			// The upstream reused an id: the newest message owns it.
			if err := del(ttl, append(bytes.Clone(old[8:]), key...)); err != nil {
				return err
			}
		}
		if err := put(fwd, key, val); err != nil {
			return err
		}
		return put(ttl, ttlKey, nil)
	}})
}

// LookupForward returns smppd's id for the first of ids (normalised candidates for one upstream
// id) that upstream accepted; ErrNotFound when none is known or its mapping expired.
func (s *Store) LookupForward(upstream string, ids ...string) (uint64, error) {
	var id uint64
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketFwd)
		if b == nil {
			return ErrNotFound
		}
		for _, c := range ids {
			if v := b.Get(fwdKey(upstream, c)); len(v) == 16 {
				id = binary.BigEndian.Uint64(v)
				return nil
			}
		}
		return ErrNotFound
	})
	if err == ErrNotFound {
		err = fmt.Errorf("%w: upstream %s id %q", ErrNotFound, upstream, ids)
	}
	return id, err
}

// ExpireForwards forgets up to limit mappings whose ExpireAt is at or before now and returns
// the smppd ids they pointed to (limit <= 0: 4096). It waits for its commit; do not call it from
// a done callback.
func (s *Store) ExpireForwards(now time.Time, limit int) ([]uint64, error) {
	if limit <= 0 {
		limit = expireChunk
	}
	bound := timeKeyBound(now)
	var ids []uint64
	err := s.doSync(func(tx *bolt.Tx, d *delta) error {
		ids = ids[:0]
		ttl, fwd := tx.Bucket(bucketFwdTTL), tx.Bucket(bucketFwd)
		if ttl == nil || fwd == nil {
			return nil
		}
		var doomed [][]byte
		c := ttl.Cursor()
		for k, _ := c.First(); k != nil && bytes.Compare(k, bound) < 0 && len(doomed) < limit; k, _ = c.Next() {
			doomed = append(doomed, bytes.Clone(k))
		}
		for _, k := range doomed {
			if len(k) >= 8 {
				if v := fwd.Get(k[8:]); len(v) == 16 && bytes.Equal(v[8:], k[:8]) {
					ids = append(ids, binary.BigEndian.Uint64(v))
					if err := del(fwd, k[8:]); err != nil {
						return err
					}
				}
			}
			if err := del(ttl, k); err != nil {
				return err
			}
		}
		return nil
	})
	return ids, err
}

// MO is an inbound (mobile-originated) message from an upstream, queued for the receivers of
// the token that owns its destination number. Like a receipt it stays queued until a receiver
// answers its deliver_sm with ESME_ROK, or until ExpireMOs drops it.
type MO struct {
	Seq        uint64 // queue key within the token (set by the store)
	TokenID    string
	Upstream   string // where it came from
	Source     pdu.Address
	Dest       pdu.Address
	Body       []byte // the upstream's deliver_sm body as received, forwarded unchanged
	ReceivedAt time.Time
	Attempts   int
}

// AppendBinary appends the record encoding of m (Seq is the key, not stored).
func (m *MO) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, moVersion)
	b = appendString(b, m.TokenID)
	b = appendString(b, m.Upstream)
	b = appendAddress(b, m.Source)
	b = appendAddress(b, m.Dest)
	b = appendBytes(b, m.Body)
	b = appendTime(b, m.ReceivedAt)
	b = binary.AppendUvarint(b, uint64(max(m.Attempts, 0)))
	return b, nil
}

// UnmarshalBinary decodes a record written by AppendBinary.
func (m *MO) UnmarshalBinary(b []byte) error {
	d := decoder{b: b}
	if v := d.byte("version"); d.err == nil && v != moVersion {
		return fmt.Errorf("%w: mo version %d", ErrCorrupt, v)
	}
	m.TokenID = d.string("token", maxToken)
	m.Upstream = d.string("upstream", maxString)
	m.Source = d.address("source")
	m.Dest = d.address("dest")
	m.Body = d.bytes("body", maxBytes)
	m.ReceivedAt = d.time("received")
	m.Attempts = int(d.uvarint("attempts"))
	return d.end()
}

// EnqueueMO durably queues m for m.TokenID's receivers; done(nil) after the fsync (only then may
// the upstream's deliver_sm be answered ESME_ROK). ErrInvalid for a missing token or an oversized
// body.
func (s *Store) EnqueueMO(m *MO, done func(error)) {
	if m.TokenID == "" || len(m.TokenID) > maxToken || len(m.Body) > maxBytes ||
		len(m.Upstream) > maxString || len(m.Source.Addr) > maxString || len(m.Dest.Addr) > maxString {
		go done(fmt.Errorf("%w: mo for token %q", ErrInvalid, m.TokenID))
		return
	}
	if err := checkTime("ReceivedAt", m.ReceivedAt); err != nil {
		go done(err)
		return
	}
	c := *m
	if c.ReceivedAt.IsZero() {
		c.ReceivedAt = time.Now()
	}
	rec, _ := c.AppendBinary(make([]byte, 0, 64+len(c.Body)))
	s.enqueue(op{done: done, apply: func(tx *bolt.Tx, d *delta) error {
		b, err := bucketFor(tx, bucketMO)
		if err != nil {
			return err
		}
		seq, err := b.NextSequence()
		if err != nil {
			return &writeError{err}
		}
		return put(b, receiptKey(c.TokenID, seq), rec)
	}})
}

// MOs returns up to limit queued MOs of tokenID with Seq above afterSeq, oldest first
// (limit <= 0: no limit).
func (s *Store) MOs(tokenID string, afterSeq uint64, limit int) ([]MO, error) {
	var out []MO
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMO)
		if b == nil {
			return nil
		}
		prefix := receiptPrefix(tokenID)
		c := b.Cursor()
		for k, v := c.Seek(receiptKey(tokenID, afterSeq+1)); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if limit > 0 && len(out) >= limit {
				break
			}
			_, seq, ok := splitReceiptKey(k)
			if !ok {
				continue
			}
			var m MO
			if err := m.UnmarshalBinary(v); err != nil {
				return fmt.Errorf("mo %d of %s: %w", seq, tokenID, err)
			}
			m.Seq = seq
			out = append(out, m)
		}
		return nil
	})
	return out, err
}

// MOTokens returns the tokens with queued MOs.
func (s *Store) MOTokens() ([]string, error) {
	var out []string
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMO)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, _ := c.First(); k != nil; {
			tok, _, ok := splitReceiptKey(k)
			if !ok {
				k, _ = c.Next()
				continue
			}
			out = append(out, string(tok))
			// Jump past this token's queue.
			k, _ = c.Seek(receiptKey(string(tok), ^uint64(0)))
			if k != nil && bytes.Equal(k, receiptKey(string(tok), ^uint64(0))) {
				k, _ = c.Next()
			}
		}
		return nil
	})
	return out, err
}

// AckMO removes a delivered MO. ErrNotFound when it is not queued (acked before, or expired).
func (s *Store) AckMO(tokenID string, seq uint64, done func(error)) {
	key := receiptKey(tokenID, seq)
	s.enqueue(op{done: done, apply: func(tx *bolt.Tx, d *delta) error {
		b := tx.Bucket(bucketMO)
		if b == nil || b.Get(key) == nil {
			return fmt.Errorf("%w: mo %d of %s", ErrNotFound, seq, tokenID)
		}
		return del(b, key)
	}})
}

// ExpireMOs drops up to limit queued MOs received before olderThan and returns how many
// (limit <= 0: 4096). It waits for its commit.
func (s *Store) ExpireMOs(olderThan time.Time, limit int) (int, error) {
	if limit <= 0 {
		limit = expireChunk
	}
	var n int
	err := s.doSync(func(tx *bolt.Tx, d *delta) error {
		n = 0
		b := tx.Bucket(bucketMO)
		if b == nil {
			return nil
		}
		var doomed [][]byte
		c := b.Cursor()
		for k, v := c.First(); k != nil && len(doomed) < limit; k, v = c.Next() {
			var m MO
			if err := m.UnmarshalBinary(v); err != nil || m.ReceivedAt.Before(olderThan) {
				doomed = append(doomed, bytes.Clone(k))
			}
		}
		for _, k := range doomed {
			if err := del(b, k); err != nil {
				return err
			}
		}
		n = len(doomed)
		return nil
	})
	return n, err
}
