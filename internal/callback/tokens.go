package callback

import (
	"errors"
	"fmt"

	"github.com/smppd/smppd/tokenstore"
)

// FromTokenStore returns the Tokens that `smppd serve` uses: each attempt reads the
// token from ts (one bbolt read) and derives its signing secret from masterKey, so a
// `smppd token rotate --callback-secret` or `token update --callback-url` made through
// the daemon applies to the next attempt. A deleted or revoked token reports
// ErrTokenNotFound: its pending callbacks are given up rather than sent on behalf of a
// customer whose access was withdrawn.
func FromTokenStore(ts *tokenstore.Store, masterKey []byte) Tokens {
	return TokensFunc(func(id string) (Token, error) {
		t, err := ts.Get(id)
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
		return Token{Name: t.Name, URL: t.CallbackURL, Secret: tokenstore.CallbackSecret(masterKey, t)}, nil
	})
}
