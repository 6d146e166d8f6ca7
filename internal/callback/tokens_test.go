package callback

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/smppd/smppd/tokenstore"
)

func TestFromTokenStore(t *testing.T) {
	ts, err := tokenstore.Open(filepath.Join(t.TempDir(), tokenstore.DBFile), tokenstore.Options{NoSync: true, KDF: tokenstore.KDFParams{Time: 1, Memory: 64, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close()
	key := make([]byte, tokenstore.MasterKeyLen)
	tok, _, err := ts.Create(context.Background(), tokenstore.CreateParams{
		Name: "shop", Permissions: tokenstore.Permissions{SMPP: true}, CallbackURL: "https://example.com/dlr"})
	if err != nil {
		t.Fatal(err)
	}
	tokens := FromTokenStore(ts, key)

	got, err := tokens.CallbackToken(tok.ID)
	if err != nil {
		t.Fatalf("CallbackToken() error = %v", err)
	}
	want := Token{Name: "shop", URL: "https://example.com/dlr", Secret: tokenstore.CallbackSecret(key, tok)}
	if got != want {
		t.Errorf("CallbackToken() = %+v, want %+v", got, want)
	}

	rotated, _, err := ts.Rotate(tok.ID, tokenstore.RotateParams{CallbackSecret: true})
	if err != nil {
		t.Fatal(err)
	}
	got, err = tokens.CallbackToken(tok.ID)
	if err != nil || got.Secret != tokenstore.CallbackSecret(key, rotated) || got.Secret == want.Secret {
		t.Errorf("after rotation CallbackToken() = %+v, %v; want the new secret at once", got, err)
	}

	if _, err := tokens.CallbackToken("shop"); !errors.Is(err, ErrTokenNotFound) {
		t.Errorf("CallbackToken(name) error = %v, want ErrTokenNotFound (ids only)", err)
	}
	if _, err := tokens.CallbackToken("nope"); !errors.Is(err, ErrTokenNotFound) {
		t.Errorf("CallbackToken(unknown) error = %v, want ErrTokenNotFound", err)
	}
	newURL := "https://hooks.example.com/v2"
	if _, _, err := ts.Update(tok.ID, tokenstore.UpdateParams{CallbackURL: &newURL}); err != nil {
		t.Fatal(err)
	}
	if got, err := tokens.CallbackToken(tok.ID); err != nil || got.URL != newURL {
		t.Errorf("after update CallbackToken() = %+v, %v; want URL %s at once", got, err, newURL)
	}
	if _, err := ts.Revoke(tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := tokens.CallbackToken(tok.ID); !errors.Is(err, ErrTokenNotFound) {
		t.Errorf("revoked: CallbackToken() error = %v, want ErrTokenNotFound", err)
	}

	// While nothing changes, a token is served from memory: with the store closed
	// (every read now fails) the token read before still answers.
	other, _, err := ts.Create(context.Background(), tokenstore.CreateParams{
		Name: "other", Permissions: tokenstore.Permissions{SMPP: true}, CallbackURL: "https://example.org/dlr"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tokens.CallbackToken(other.ID); err != nil {
		t.Fatal(err)
	}
	if err := ts.Close(); err != nil {
		t.Fatal(err)
	}
	if got, err := tokens.CallbackToken(other.ID); err != nil || got.URL != "https://example.org/dlr" {
		t.Errorf("unchanged store, closed: CallbackToken() = %+v, %v; want the cached token", got, err)
	}
	if _, err := tokens.CallbackToken(tok.ID); err == nil {
		t.Error("closed store: CallbackToken(revoked token) = nil error; errors must not be cached")
	}
}
