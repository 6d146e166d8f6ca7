package callback

import (
	"errors"
	"fmt"
	"sync"

	"github.com/smppd/smppd/tokenstore"
)

// FromTokenStore returns the Tokens that `smppd serve` uses: a token is read from ts
// and its signing secret derived from masterKey, and both are kept until ts changes
// (tokenstore.Store.Generation), so a `smppd token rotate --callback-secret` or
// `token update --callback-url` made through the daemon applies to the next attempt,
// while a steady stream of reports costs no token read (one was a JSON decode per
// request). A deleted or revoked token reports ErrTokenNotFound: its pending callbacks
// are given up rather than sent on behalf of a customer whose access was withdrawn.
func FromTokenStore(ts *tokenstore.Store, masterKey []byte) Tokens {
	c := &tokenCache{ts: ts, key: masterKey, byID: make(map[string]Token)}
	return TokensFunc(c.get)
}

// tokenCache holds the callback settings of the tokens read at generation gen.
type tokenCache struct {
	ts  *tokenstore.Store
	key []byte

	mu   sync.Mutex
	gen  uint64
	byID map[string]Token // only tokens found and active: errors are not kept
}

func (c *tokenCache) get(id string) (Token, error) {
	gen := c.ts.Generation() // before the read: an edit racing it leaves gen stale
	c.mu.Lock()
	if c.gen != gen {
		clear(c.byID)
		c.gen = gen
	}
	t, ok := c.byID[id]
	c.mu.Unlock()
	if ok {
		return t, nil
	}
	t, err := c.read(id)
	if err != nil {
		return Token{}, err
	}
	c.mu.Lock()
	if c.gen == gen {
		c.byID[id] = t
	}
	c.mu.Unlock()
	return t, nil
}

func (c *tokenCache) read(id string) (Token, error) {
	t, err := c.ts.Get(id)
	if errors.Is(err, tokenstore.ErrNotFound) {
		return Token{}, fmt.Errorf("%w: %w", ErrTokenNotFound, err)
	}
	if err != nil {
		return Token{}, err
	}
	if t.ID != id { // Get also resolves names; a name equal to a gone id is not that token
		return Token{}, fmt.Errorf("%w: %q", ErrTokenNotFound, id)
	}
	if !t.Active() {
		return Token{}, fmt.Errorf("%w: %q is revoked", ErrTokenNotFound, id)
	}
	return Token{Name: t.Name, URL: t.CallbackURL, Secret: tokenstore.CallbackSecret(c.key, t)}, nil
}
