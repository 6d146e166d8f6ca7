package tokenstore

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
)

// testKDF keeps the tests fast; the hash format and code path are the real ones.
var testKDF = KDFParams{Time: 1, Memory: 64, Threads: 1}

func openTest(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), DBFile), Options{KDF: testKDF, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mustCreate(t *testing.T, s *Store, p CreateParams) (Token, Secrets) {
	t.Helper()
	tok, sec, err := s.Create(context.Background(), p)
	if err != nil {
		t.Fatalf("Create(%+v) = %v", p, err)
	}
	return tok, sec
}

var (
	systemIDRe  = regexp.MustCompile(`^[a-z0-9]{1,15}$`)
	shortPassRe = regexp.MustCompile(`^[` + passwordAlphabet + `]{8}$`)
	longPassRe  = regexp.MustCompile(`^[` + passwordAlphabet + `]{32}$`)
	liveKeyRe   = regexp.MustCompile(`^smppd_live_[A-Za-z0-9]{40}$`)
	testKeyRe   = regexp.MustCompile(`^smppd_test_[A-Za-z0-9]{40}$`)
)

func TestCreateCredentials(t *testing.T) {
	s := openTest(t)
	tests := []struct {
		name     string
		p        CreateParams
		wantSMPP bool
		passRe   *regexp.Regexp
		keyRe    *regexp.Regexp
	}{
		{"smpp live", CreateParams{Name: "Shop Front", Permissions: Permissions{SMPP: true}}, true, shortPassRe, liveKeyRe},
		{"smpp long test", CreateParams{Name: "long", Permissions: Permissions{SMPP: true, HTTP: true}, TestMode: true, LongPassword: true}, true, longPassRe, testKeyRe},
		{"http only", CreateParams{Name: "http-only", Permissions: Permissions{HTTP: true}}, false, nil, liveKeyRe},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, sec := mustCreate(t, s, tt.p)
			if !looksLikeID(tok.ID) {
				t.Errorf("ID = %q, not an id", tok.ID)
			}
			if !tt.keyRe.MatchString(sec.APIKey) {
				t.Errorf("APIKey = %q, want %v", sec.APIKey, tt.keyRe)
			}
			if !strings.HasPrefix(sec.APIKey, tok.APIKeyPrefix) || len(tok.APIKeyPrefix) != len(APIKeyLive)+4 {
				t.Errorf("APIKeyPrefix = %q for key %q", tok.APIKeyPrefix, sec.APIKey)
			}
			if tt.wantSMPP {
				if !systemIDRe.MatchString(tok.SystemID) {
					t.Errorf("SystemID = %q, want %v", tok.SystemID, systemIDRe)
				}
				if !tt.passRe.MatchString(sec.Password) {
					t.Errorf("Password = %q, want %v", sec.Password, tt.passRe)
				}
			} else if tok.SystemID != "" || sec.Password != "" {
				t.Errorf("without SMPP: SystemID = %q, Password = %q, want both empty", tok.SystemID, sec.Password)
			}
			got, err := s.Get(tok.ID)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tok, got, cmpOpts); diff != "" {
				t.Errorf("Get(id) differs from Create (-create +get):\n%s", diff)
			}
			byName, err := s.Get(tok.Name)
			if err != nil || byName.ID != tok.ID {
				t.Errorf("Get(name) = %v, %v; want id %s", byName.ID, err, tok.ID)
			}
		})
	}
	if got := newSystemID("Shop Front"); !strings.HasPrefix(got, "shopfron") || len(got) != 14 {
		t.Errorf("newSystemID(Shop Front) = %q", got)
	}
}

func TestCreateInvalid(t *testing.T) {
	s := openTest(t)
	mustCreate(t, s, CreateParams{Name: "taken", Permissions: Permissions{HTTP: true}})
	smpp := Permissions{SMPP: true}
	tests := []struct {
		name string
		p    CreateParams
		want error
	}{
		{"empty name", CreateParams{Permissions: smpp}, ErrInvalidName},
		{"name too long", CreateParams{Name: strings.Repeat("é", 65), Permissions: smpp}, ErrInvalidName},
		{"name with space", CreateParams{Name: " a", Permissions: smpp}, ErrInvalidName},
		{"name control char", CreateParams{Name: "a\nb", Permissions: smpp}, ErrInvalidName},
		{"name like id", CreateParams{Name: "tok_aaaaaaaaaaaaaaaa", Permissions: smpp}, ErrInvalidName},
		{"duplicate", CreateParams{Name: "taken", Permissions: smpp}, ErrDuplicateName},
		{"no permission", CreateParams{Name: "x"}, ErrNoPermission},
		{"ftp url", CreateParams{Name: "x", Permissions: smpp, CallbackURL: "ftp://h/x"}, ErrInvalidURL},
		{"relative url", CreateParams{Name: "x", Permissions: smpp, CallbackURL: "/dlr"}, ErrInvalidURL},
		{"no host", CreateParams{Name: "x", Permissions: smpp, CallbackURL: "https:///x"}, ErrInvalidURL},
		{"userinfo", CreateParams{Name: "x", Permissions: smpp, CallbackURL: "https://u:p@h/x"}, ErrInvalidURL},
		{"negative binds", CreateParams{Name: "x", Permissions: smpp, Limits: Limits{MaxBinds: -1}}, ErrInvalidLimit},
		{"negative tps", CreateParams{Name: "x", Permissions: smpp, Limits: Limits{MaxTPS: -1}}, ErrInvalidLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := s.Create(context.Background(), tt.p)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Create() = %v, want %v", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q spans lines", err)
			}
		})
	}
	if l, _ := s.List(); len(l) != 1 {
		t.Errorf("List() has %d tokens after failed creates, want 1", len(l))
	}
	if _, _, err := s.Create(context.Background(), CreateParams{Name: strings.Repeat("é", 64), Permissions: smpp}); err != nil {
		t.Errorf("64-character name: %v", err)
	}
}

func TestParsePrefix(t *testing.T) {
	tests := []struct {
		in, want string
		err      bool
	}{
		{"10.1.2.3/8", "10.0.0.0/8", false},
		{"192.0.2.7", "192.0.2.7/32", false},
		{"2001:db8::1", "2001:db8::1/128", false},
		{"::ffff:192.0.2.7", "192.0.2.7/32", false},
		{"10.0.0.0/33", "", true},
		{"nonsense", "", true},
		{"", "", true},
		{"fe80::1%eth0", "", true},
	}
	for _, tt := range tests {
		p, err := ParsePrefix(tt.in)
		if tt.err {
			if !errors.Is(err, ErrInvalidCIDR) {
				t.Errorf("ParsePrefix(%q) = %v, %v; want ErrInvalidCIDR", tt.in, p, err)
			}
			continue
		}
		if err != nil || p.String() != tt.want {
			t.Errorf("ParsePrefix(%q) = %v, %v; want %s", tt.in, p, err, tt.want)
		}
	}
}

func TestAuthenticate(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	shop, shopSec, _ := s.Create(ctx, CreateParams{Name: "shop", Permissions: Permissions{SMPP: true},
		Limits: Limits{AllowIPs: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}})
	long, longSec, _ := s.Create(ctx, CreateParams{Name: "long", Permissions: Permissions{SMPP: true}, LongPassword: true})
	noSMPP, noSMPPSec, _ := s.Create(ctx, CreateParams{Name: "nosmpp", Permissions: Permissions{SMPP: true, HTTP: true}})
	if _, _, err := s.Update(noSMPP.ID, UpdateParams{SMPP: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	gone, goneSec, _ := s.Create(ctx, CreateParams{Name: "gone", Permissions: Permissions{SMPP: true}})
	if _, err := s.Revoke(gone.ID); err != nil {
		t.Fatal(err)
	}
	allowed := netip.MustParseAddr("192.0.2.9")
	tests := []struct {
		name     string
		sysID    string
		password string
		addr     netip.Addr
		want     error
	}{
		{"ok", shop.SystemID, shopSec.Password, allowed, nil},
		{"ok v4-mapped", shop.SystemID, shopSec.Password, netip.MustParseAddr("::ffff:192.0.2.9"), nil},
		{"wrong password", shop.SystemID, "xxxxxxxx", allowed, ErrInvalidCredentials},
		{"empty password", shop.SystemID, "", allowed, ErrInvalidCredentials},
		{"password plus suffix", shop.SystemID, shopSec.Password + "x", allowed, ErrInvalidCredentials},
		{"unknown system_id", "nosuch", shopSec.Password, allowed, ErrInvalidCredentials},
		{"ip not allowed", shop.SystemID, shopSec.Password, netip.MustParseAddr("198.51.100.1"), ErrBindRefused},
		{"ip not allowed, wrong password", shop.SystemID, "xxxxxxxx", netip.MustParseAddr("198.51.100.1"), ErrInvalidCredentials},
		{"long ok", long.SystemID, longSec.Password, allowed, nil},
		{"long truncated to 8", long.SystemID, longSec.Password[:8], allowed, ErrInvalidCredentials},
		{"long truncated by one", long.SystemID, longSec.Password[:31], allowed, ErrInvalidCredentials},
		{"over max length", long.SystemID, strings.Repeat("a", MaxPasswordLen+1), allowed, ErrInvalidCredentials},
		{"smpp removed", noSMPP.SystemID, noSMPPSec.Password, allowed, ErrInvalidCredentials},
		{"revoked", gone.SystemID, goneSec.Password, allowed, ErrInvalidCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := s.Authenticate(tt.sysID, tt.password, tt.addr)
			if tt.want == nil {
				if err != nil || tok.SystemID != tt.sysID {
					t.Fatalf("Authenticate() = %q, %v; want success", tok.SystemID, err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Authenticate() = %v, want %v", err, tt.want)
			}
			if tt.want == ErrInvalidCredentials && err != ErrInvalidCredentials {
				t.Errorf("Authenticate() = %q: credential failures must be indistinguishable", err)
			}
		})
	}
}

// TestAuthenticateCostsKDF checks the enumeration defence without timing:
// every uncached path runs the KDF exactly once, the unknown system_id too.
func TestAuthenticateCostsKDF(t *testing.T) {
	s := openTest(t)
	tok, sec := mustCreate(t, s, CreateParams{Name: "shop", Permissions: Permissions{SMPP: true}})
	any := netip.MustParseAddr("127.0.0.1")
	runs := func(sysID, pw string) int64 {
		before := s.kdfRuns.Load()
		s.Authenticate(sysID, pw, any)
		return s.kdfRuns.Load() - before
	}
	if n := runs("unknown", "whatever"); n != 1 {
		t.Errorf("unknown system_id ran the KDF %d times, want 1", n)
	}
	if n := runs(tok.SystemID, "wrongpw1"); n != 1 {
		t.Errorf("wrong password ran the KDF %d times, want 1", n)
	}
	if n := runs(tok.SystemID, sec.Password); n != 1 {
		t.Errorf("first good bind ran the KDF %d times, want 1", n)
	}
	if n := runs(tok.SystemID, sec.Password); n != 0 {
		t.Errorf("cached bind ran the KDF %d times, want 0", n)
	}
	if n := runs(tok.SystemID, "wrongpw1"); n != 1 {
		t.Errorf("wrong password after a cached bind ran the KDF %d times, want 1", n)
	}
}

func TestCacheInvalidation(t *testing.T) {
	any := netip.MustParseAddr("127.0.0.1")
	tests := []struct {
		name      string
		change    func(s *Store, id string) error
		oldWorks  bool // does the old password still authenticate after the change?
		wantRerun bool // must the KDF run again for it?
	}{
		{"rotate password", func(s *Store, id string) error {
			_, _, err := s.Rotate(id, RotateParams{SMPPPassword: true})
			return err
		}, false, true},
		{"revoke", func(s *Store, id string) error { _, err := s.Revoke(id); return err }, false, true},
		{"remove smpp", func(s *Store, id string) error {
			_, _, err := s.Update(id, UpdateParams{SMPP: ptr(false)})
			return err
		}, false, true},
		{"rename", func(s *Store, id string) error {
			_, _, err := s.Update(id, UpdateParams{Name: ptr("renamed")})
			return err
		}, true, true},
		{"mark bound", func(s *Store, id string) error { return s.MarkBound(id, time.Now()) }, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTest(t)
			tok, sec := mustCreate(t, s, CreateParams{Name: "shop", Permissions: Permissions{SMPP: true, HTTP: true}})
			if _, err := s.Authenticate(tok.SystemID, sec.Password, any); err != nil {
				t.Fatal(err)
			}
			if err := tt.change(s, tok.ID); err != nil {
				t.Fatal(err)
			}
			before := s.kdfRuns.Load()
			_, err := s.Authenticate(tok.SystemID, sec.Password, any)
			if got := err == nil; got != tt.oldWorks {
				t.Errorf("old password after change: err = %v, want works=%v", err, tt.oldWorks)
			}
			if rerun := s.kdfRuns.Load() > before; rerun != tt.wantRerun {
				t.Errorf("KDF ran again = %v, want %v", rerun, tt.wantRerun)
			}
		})
	}
}

func TestRotate(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	tok, sec, _ := s.Create(ctx, CreateParams{Name: "shop", Permissions: Permissions{SMPP: true, HTTP: true}})
	any := netip.MustParseAddr("127.0.0.1")

	rot, rsec, err := s.Rotate("shop", RotateParams{})
	if err != nil {
		t.Fatal(err)
	}
	if rsec.Password == "" || rsec.Password == sec.Password || rsec.APIKey == "" || rsec.APIKey == sec.APIKey {
		t.Errorf("Rotate(all) secrets = %+v, want new password and key", rsec)
	}
	if rot.SystemID != tok.SystemID || rot.CallbackSecretVersion != 0 || rot.Revision != tok.Revision+1 {
		t.Errorf("Rotate(all) token = %+v", rot)
	}
	if _, err := s.Authenticate(tok.SystemID, rsec.Password, any); err != nil {
		t.Errorf("new password: %v", err)
	}
	if _, err := s.AuthenticateAPIKey(sec.APIKey); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("old API key: %v, want ErrInvalidCredentials", err)
	}
	if got, err := s.AuthenticateAPIKey(rsec.APIKey); err != nil || got.ID != tok.ID {
		t.Errorf("new API key: %v, %v", got.ID, err)
	}

	rot2, rsec2, err := s.Rotate(tok.ID, RotateParams{CallbackSecret: true})
	if err != nil {
		t.Fatal(err)
	}
	if rsec2 != (Secrets{}) || rot2.CallbackSecretVersion != 1 {
		t.Errorf("Rotate(callback) = %+v, %+v; want version 1, no secrets", rot2, rsec2)
	}
	key := randomBytes(MasterKeyLen)
	if CallbackSecret(key, rot) == CallbackSecret(key, rot2) {
		t.Error("callback secret unchanged by rotation")
	}

	httpOnly, _ := mustCreate(t, s, CreateParams{Name: "http", Permissions: Permissions{HTTP: true}})
	if _, _, err := s.Rotate(httpOnly.ID, RotateParams{SMPPPassword: true}); !errors.Is(err, ErrNoSMPP) {
		t.Errorf("Rotate(password) without SMPP = %v, want ErrNoSMPP", err)
	}
	if _, sec, err := s.Rotate(httpOnly.ID, RotateParams{}); err != nil || sec.Password != "" || sec.APIKey == "" {
		t.Errorf("Rotate(default) without SMPP = %+v, %v; want only an API key", sec, err)
	}
	s.Revoke(httpOnly.ID)
	if _, _, err := s.Rotate(httpOnly.ID, RotateParams{APIKey: true}); !errors.Is(err, ErrRevoked) {
		t.Errorf("Rotate(revoked) = %v, want ErrRevoked", err)
	}
	if _, _, err := s.Rotate("nosuch", RotateParams{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Rotate(unknown) = %v, want ErrNotFound", err)
	}
}

func TestUpdate(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	tok, _, _ := s.Create(ctx, CreateParams{Name: "shop", Permissions: Permissions{HTTP: true}, CallbackURL: "https://a.example/dlr"})
	other, _, _ := s.Create(ctx, CreateParams{Name: "other", Permissions: Permissions{HTTP: true}})

	up, sec, err := s.Update("shop", UpdateParams{
		Name: ptr("shop2"), CallbackURL: ptr(""), TestMode: ptr(true), SMPP: ptr(true),
		MaxBinds: ptr(3), MaxTPS: ptr(50), AllowIPs: &[]netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := tok
	want.Name, want.CallbackURL, want.TestMode = "shop2", "", true
	want.Permissions.SMPP = true
	want.Limits = Limits{MaxBinds: 3, MaxTPS: 50, AllowIPs: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}}
	want.SystemID, want.UpdatedAt, want.Revision = up.SystemID, up.UpdatedAt, 2
	if diff := cmp.Diff(want, up, cmpOpts); diff != "" {
		t.Errorf("Update() mismatch (-want +got):\n%s", diff)
	}
	if !systemIDRe.MatchString(up.SystemID) || !shortPassRe.MatchString(sec.Password) {
		t.Errorf("enabling SMPP issued system_id %q password %q", up.SystemID, sec.Password)
	}
	if _, err := s.Authenticate(up.SystemID, sec.Password, netip.MustParseAddr("10.1.2.3")); err != nil {
		t.Errorf("credentials issued by Update: %v", err)
	}
	if _, err := s.Get("shop"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(old name) = %v, want ErrNotFound", err)
	}
	// Re-enabling SMPP later keeps the credentials and issues nothing.
	s.Update("shop2", UpdateParams{SMPP: ptr(false)})
	again, sec2, err := s.Update("shop2", UpdateParams{SMPP: ptr(true)})
	if err != nil || sec2.Password != "" || again.SystemID != up.SystemID {
		t.Errorf("re-enable SMPP = %q, %+v, %v; want same system_id, no secret", again.SystemID, sec2, err)
	}

	errTests := []struct {
		name string
		id   string
		p    UpdateParams
		want error
	}{
		{"unknown", "nosuch", UpdateParams{TestMode: ptr(true)}, ErrNotFound},
		{"duplicate name", "shop2", UpdateParams{Name: ptr(other.Name)}, ErrDuplicateName},
		{"no permissions", "shop2", UpdateParams{SMPP: ptr(false), HTTP: ptr(false)}, ErrNoPermission},
		{"bad url", "shop2", UpdateParams{CallbackURL: ptr("mailto:x@y")}, ErrInvalidURL},
		{"bad name", "shop2", UpdateParams{Name: ptr(strings.Repeat("n", 65))}, ErrInvalidName},
		{"negative", "shop2", UpdateParams{MaxTPS: ptr(-5)}, ErrInvalidLimit},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := s.Get("shop2")
			if _, _, err := s.Update(tt.id, tt.p); !errors.Is(err, tt.want) {
				t.Fatalf("Update() = %v, want %v", err, tt.want)
			}
			if after, _ := s.Get("shop2"); !cmp.Equal(before, after, cmpOpts) {
				t.Errorf("failed Update changed the token: %s", cmp.Diff(before, after, cmpOpts))
			}
		})
	}
}

func TestRevokeFreesName(t *testing.T) {
	s := openTest(t)
	old, _ := mustCreate(t, s, CreateParams{Name: "shop", Permissions: Permissions{HTTP: true}})
	r, err := s.Revoke("shop")
	if err != nil || r.Active() || r.Revision != 2 {
		t.Fatalf("Revoke() = %+v, %v", r, err)
	}
	again, err := s.Revoke(old.ID)
	if err != nil || !again.RevokedAt.Equal(r.RevokedAt) {
		t.Errorf("second Revoke() = %v, %v; want unchanged", again.RevokedAt, err)
	}
	if got, err := s.Get("shop"); err != nil || got.ID != old.ID {
		t.Errorf("Get(revoked name) = %v, %v; want the revoked token", got.ID, err)
	}
	if _, _, err := s.Update("shop", UpdateParams{TestMode: ptr(true)}); !errors.Is(err, ErrRevoked) {
		t.Errorf("Update(revoked) = %v, want ErrRevoked", err)
	}
	nu, _ := mustCreate(t, s, CreateParams{Name: "shop", Permissions: Permissions{HTTP: true}})
	if got, _ := s.Get("shop"); got.ID != nu.ID {
		t.Errorf("Get(shop) = %s after reuse, want the new token %s", got.ID, nu.ID)
	}
	if got, _ := s.Get(old.ID); got.Name != "shop" || got.Active() {
		t.Errorf("revoked token by id = %+v", got)
	}
	list, _ := s.List()
	if len(list) != 2 || list[0].ID != old.ID || list[1].ID != nu.ID {
		t.Errorf("List() = %v, want old then new", list)
	}
}

func TestMarkBound(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, DBFile)
	s, err := Open(path, Options{KDF: testKDF, NoSync: true, MarkBoundDelay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := mustCreate(t, s, CreateParams{Name: "shop", Permissions: Permissions{SMPP: true}})
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s.MarkBound(tok.ID, at)
	s.MarkBound(tok.ID, at.Add(-time.Minute)) // older: ignored
	if got, _ := s.Get(tok.ID); !got.LastBindAt.Equal(at) || got.Revision != 1 {
		t.Errorf("buffered LastBindAt = %v (revision %d), want %v (revision 1)", got.LastBindAt, got.Revision, at)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkBound(tok.ID, at); !errors.Is(err, ErrClosed) {
		t.Errorf("MarkBound after Close = %v, want ErrClosed", err)
	}
	s, err = Open(path, Options{KDF: testKDF, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, _ := s.Get(tok.ID); !got.LastBindAt.Equal(at) {
		t.Errorf("LastBindAt after reopen = %v, want %v", got.LastBindAt, at)
	}
}

func TestMarkBoundBackgroundFlush(t *testing.T) {
	path := filepath.Join(t.TempDir(), DBFile)
	s, err := Open(path, Options{KDF: testKDF, NoSync: true, MarkBoundDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tok, _ := mustCreate(t, s, CreateParams{Name: "shop", Permissions: Permissions{SMPP: true}})
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s.MarkBound(tok.ID, at)
	// Wait (without a deadline assertion) until the timer has written it.
	for {
		var stored record
		s.db.View(func(tx *bolt.Tx) error { stored, _ = getRecord(tx, tok.ID); return nil })
		if stored.LastBindAt.Equal(at) {
			break
		}
		time.Sleep(time.Millisecond)
	}
}

func TestOpenLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), DBFile)
	s, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = Open(path, Options{Timeout: 50 * time.Millisecond})
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), path) {
		t.Fatalf("second Open() = %v, want ErrLocked naming the file", err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode = %v, %v; want 0600", fi.Mode().Perm(), err)
	}
}

func TestSchemaVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), DBFile)
	s, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(schemaKey, []byte{0, 0, 0, 99})
	})
	s.Close()
	if _, err := Open(path, Options{}); err == nil || !strings.Contains(err.Error(), "schema version 99") {
		t.Fatalf("Open(newer schema) = %v, want a schema version error", err)
	}
}

// TestNoSecretsOnDisk issues, rotates and updates credentials, then reads
// the file's raw bytes: no secret may appear, in any usual encoding.
func TestNoSecretsOnDisk(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, DBFile)
	s, err := Open(path, Options{KDF: testKDF})
	if err != nil {
		t.Fatal(err)
	}
	key, err := LoadOrCreateMasterKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var secrets []string
	add := func(tok Token, sec Secrets) {
		for _, v := range []string{sec.APIKey, sec.Password, CallbackSecret(key, tok)} {
			if v != "" {
				secrets = append(secrets, v)
			}
		}
	}
	for _, p := range []CreateParams{
		{Name: "a", Permissions: Permissions{SMPP: true}},
		{Name: "b", Permissions: Permissions{SMPP: true, HTTP: true}, LongPassword: true, TestMode: true},
		{Name: "c", Permissions: Permissions{HTTP: true}, CallbackURL: "https://x.example/"},
	} {
		tok, sec, err := s.Create(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		add(tok, sec)
	}
	tok, sec, _ := s.Rotate("a", RotateParams{SMPPPassword: true, APIKey: true, CallbackSecret: true})
	add(tok, sec)
	tok, sec, _ = s.Update("c", UpdateParams{SMPP: ptr(true)})
	add(tok, sec)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(secrets) != 13 {
		t.Fatalf("collected %d secrets, want 13", len(secrets))
	}
	for _, sec := range secrets {
		for _, enc := range []string{sec, base64.StdEncoding.EncodeToString([]byte(sec)), strings.TrimPrefix(sec, CallbackSecretPrefix)} {
			if bytes.Contains(raw, []byte(enc)) {
				t.Errorf("%s holds secret %q", DBFile, sec)
			}
		}
		// The random part of an API key must not be there either.
		if rest, ok := strings.CutPrefix(sec, APIKeyLive); ok && bytes.Contains(raw, []byte(rest[4:])) {
			t.Errorf("%s holds the random part of %q", DBFile, sec)
		}
		if rest, ok := strings.CutPrefix(sec, APIKeyTest); ok && bytes.Contains(raw, []byte(rest[4:])) {
			t.Errorf("%s holds the random part of %q", DBFile, sec)
		}
	}
}

func TestMasterKey(t *testing.T) {
	dir := t.TempDir()
	k1, err := LoadOrCreateMasterKey(dir)
	if err != nil || len(k1) != MasterKeyLen {
		t.Fatalf("LoadOrCreateMasterKey() = %d bytes, %v", len(k1), err)
	}
	fi, _ := os.Stat(filepath.Join(dir, MasterKeyFile))
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s mode = %v, want 0600", MasterKeyFile, fi.Mode().Perm())
	}
	k2, _ := LoadOrCreateMasterKey(dir)
	if !bytes.Equal(k1, k2) {
		t.Error("second load returned a different key")
	}
	os.WriteFile(filepath.Join(dir, MasterKeyFile), []byte("short"), 0o600)
	if _, err := LoadOrCreateMasterKey(dir); err == nil {
		t.Error("short key file accepted")
	}
	if _, err := LoadOrCreateMasterKey(filepath.Join(dir, "missing", "dir")); err == nil {
		t.Error("missing directory accepted")
	}
	tok := Token{ID: "tok_aaaaaaaaaaaaaaaa", CallbackSecretVersion: 2}
	sec := CallbackSecret(k1, tok)
	if !strings.HasPrefix(sec, CallbackSecretPrefix) || len(sec) != len(CallbackSecretPrefix)+43 {
		t.Errorf("CallbackSecret() = %q", sec)
	}
	if CallbackSecret(k1, tok) != sec {
		t.Error("CallbackSecret is not deterministic")
	}
}

func TestMasterKeyConcurrentCreate(t *testing.T) {
	dir := t.TempDir()
	keys := make([][]byte, 8)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := LoadOrCreateMasterKey(dir)
			if err != nil {
				t.Error(err)
			}
			keys[i] = k
		}()
	}
	wg.Wait()
	for i, k := range keys {
		if !bytes.Equal(k, keys[0]) {
			t.Errorf("creator %d got a different key", i)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("data dir holds %d files after concurrent creation, want 1", len(entries))
	}
}

func TestConcurrentAuthenticate(t *testing.T) {
	s := openTest(t)
	tok, sec := mustCreate(t, s, CreateParams{Name: "shop", Permissions: Permissions{SMPP: true}})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pw := sec.Password
			if i%2 == 1 {
				pw = "wrongpw1"
			}
			_, err := s.Authenticate(tok.SystemID, pw, netip.MustParseAddr("127.0.0.1"))
			if (err == nil) != (i%2 == 0) {
				t.Errorf("goroutine %d: %v", i, err)
			}
			s.MarkBound(tok.ID, time.Now())
		}()
	}
	wg.Wait()
}

// cmpOpts compares netip values, whose fields are unexported, by value.
var cmpOpts = cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })

func ptr[T any](v T) *T { return &v }

func BenchmarkAuthenticate(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), DBFile), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	tok, sec, _ := s.Create(context.Background(), CreateParams{Name: "shop", Permissions: Permissions{SMPP: true}})
	addr := netip.MustParseAddr("127.0.0.1")
	b.Run("cached", func(b *testing.B) {
		s.Authenticate(tok.SystemID, sec.Password, addr)
		for b.Loop() {
			if _, err := s.Authenticate(tok.SystemID, sec.Password, addr); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("wrong-password", func(b *testing.B) {
		for b.Loop() {
			s.Authenticate(tok.SystemID, "wrongpw1", addr)
		}
	})
	b.Run("unknown-system-id", func(b *testing.B) {
		for b.Loop() {
			s.Authenticate("unknown", "wrongpw1", addr)
		}
	})
	b.Run("mark-bound", func(b *testing.B) {
		for b.Loop() {
			s.MarkBound(tok.ID, time.Now())
		}
	})
}
