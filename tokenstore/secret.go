package tokenstore

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Files in the data directory.
const (
	// DBFile is the bbolt file holding the tokens.
	DBFile = "tokens.db"
	// MasterKeyFile holds the key callback signing secrets are derived from.
	MasterKeyFile = "secret.key"
	// MasterKeyLen is the size of the master key in bytes.
	MasterKeyLen = 32
)

// Credential shapes.
const (
	// ShortPasswordLen is the SMPP 3.4 password limit (9 octets with the NUL).
	ShortPasswordLen = 8
	// LongPasswordLen is the length of an opt-in long SMPP password.
	LongPasswordLen = 32
	// MaxPasswordLen is the longest password Authenticate will hash.
	MaxPasswordLen = 64
	// MaxSystemIDLen is the SMPP 3.4 system_id limit (16 octets with the NUL).
	MaxSystemIDLen = 15
	// apiKeyRandomLen random characters follow the APIKeyLive/APIKeyTest prefix.
	apiKeyRandomLen = 40

	// APIKeyLive and APIKeyTest start API keys, so a leaked key is recognisable.
	APIKeyLive = "smppd_live_"
	APIKeyTest = "smppd_test_"
	// CallbackSecretPrefix starts a callback signing secret.
	CallbackSecretPrefix = "whsec_"
	// idPrefix starts a token id.
	idPrefix = "tok_"
)

// passwordAlphabet has no look-alikes (0/O/o, 1/l/I) and no punctuation,
// which clients' configuration files tend to mangle: 56 symbols, so an
// 8-character password carries about 46 bits.
const passwordAlphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

const (
	keyAlphabet      = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	systemIDAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
)

var lowerBase32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// randomString returns n characters drawn uniformly from alphabet.
func randomString(alphabet string, n int) string {
	// Rejection sampling keeps the distribution uniform.
	limit := 256 - 256%len(alphabet)
	out := make([]byte, 0, n)
	buf := make([]byte, n*2)
	for len(out) < n {
		rand.Read(buf) // never fails (crypto/rand, Go ≥ 1.24)
		for _, b := range buf {
			if int(b) < limit && len(out) < n {
				out = append(out, alphabet[int(b)%len(alphabet)])
			}
		}
	}
	return string(out)
}

func newID() string {
	b := make([]byte, 10)
	rand.Read(b)
	return idPrefix + lowerBase32.EncodeToString(b)
}

// looksLikeID reports whether s has the shape of a token id.
func looksLikeID(s string) bool {
	rest, ok := strings.CutPrefix(s, idPrefix)
	if !ok || len(rest) != 16 {
		return false
	}
	_, err := lowerBase32.DecodeString(rest)
	return err == nil
}

// newSystemID builds a system_id from up to 8 lower-case letters and digits
// of the token name (so operators recognise it in logs) and 6 random ones.
func newSystemID(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			if b.Len() == 8 {
				break
			}
		}
	}
	if b.Len() == 0 {
		b.WriteString("tok")
	}
	return b.String() + randomString(systemIDAlphabet, 6)
}

func newPassword(long bool) string {
	if long {
		return randomString(passwordAlphabet, LongPasswordLen)
	}
	return randomString(passwordAlphabet, ShortPasswordLen)
}

func newAPIKey(test bool) string {
	prefix := APIKeyLive
	if test {
		prefix = APIKeyTest
	}
	return prefix + randomString(keyAlphabet, apiKeyRandomLen)
}

// apiKeyPrefixLen characters of an API key are kept for display.
func apiKeyDisplayPrefix(key string) string {
	if i := strings.LastIndexByte(key, '_'); i >= 0 && len(key) >= i+5 {
		return key[:i+5]
	}
	return ""
}

// apiKeyHash is the index key of an API key. An API key carries over 230
// bits of randomness, so a fast hash is enough: no dictionary applies.
func apiKeyHash(key string) []byte {
	h := sha256.Sum256([]byte(key))
	return h[:]
}

// KDFParams are the argon2id parameters for SMPP password hashes. The
// parameters are stored with every hash, so changing them only affects
// passwords issued afterwards.
type KDFParams struct {
	Time    uint32 // passes
	Memory  uint32 // KiB
	Threads uint8
}

// DefaultKDFParams follow the OWASP argon2id minimum (19 MiB, 2 passes,
// 1 lane): an 8-character password has ~46 bits, so a stolen tokens.db
// must cost memory to attack.
var DefaultKDFParams = KDFParams{Time: 2, Memory: 19 * 1024, Threads: 1}

const (
	kdfSaltLen = 16
	kdfKeyLen  = 32
)

// hashPassword returns an encoded argon2id hash:
// "argon2id$v=19$m=…,t=…,p=…$salt$hash" (raw base64).
func hashPassword(password string, p KDFParams) string {
	salt := make([]byte, kdfSaltLen)
	rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, kdfKeyLen)
	return fmt.Sprintf("argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

type parsedHash struct {
	p    KDFParams
	salt []byte
	key  []byte
}

func parseHash(enc string) (parsedHash, error) {
	var h parsedHash
	parts := strings.Split(enc, "$")
	if len(parts) != 5 || parts[0] != "argon2id" || parts[1] != "v="+strconv.Itoa(argon2.Version) {
		return h, errors.New("tokenstore: unsupported password hash")
	}
	if _, err := fmt.Sscanf(parts[2], "m=%d,t=%d,p=%d", &h.p.Memory, &h.p.Time, &h.p.Threads); err != nil {
		return h, fmt.Errorf("tokenstore: bad password hash parameters: %w", err)
	}
	var err error
	if h.salt, err = base64.RawStdEncoding.DecodeString(parts[3]); err != nil {
		return h, fmt.Errorf("tokenstore: bad password hash salt: %w", err)
	}
	if h.key, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil || len(h.key) == 0 {
		return h, errors.New("tokenstore: bad password hash")
	}
	return h, nil
}

// verify derives the key for password and compares it, over its full
// length and in constant time, with the stored one. Since the whole
// password goes through the KDF, a truncated prefix of a long password
// derives a different key and never matches.
func (h parsedHash) verify(password string) bool {
	got := argon2.IDKey([]byte(password), h.salt, h.p.Time, h.p.Memory, h.p.Threads, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(got, h.key) == 1
}

// CallbackSecret returns the signing secret of t's HTTP delivery-report
// callbacks: "whsec_" + base64url(HMAC-SHA256(masterKey,
// "callback:"+id+":"+version)). It is derived rather than stored so that
// the daemon can sign while tokens.db holds no secret; rotating it bumps
// t.CallbackSecretVersion.
func CallbackSecret(masterKey []byte, t Token) string {
	m := hmac.New(sha256.New, masterKey)
	m.Write([]byte("callback:" + t.ID + ":" + strconv.FormatUint(uint64(t.CallbackSecretVersion), 10)))
	return CallbackSecretPrefix + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// LoadOrCreateMasterKey reads the MasterKeyLen-byte key in
// dataDir/secret.key, creating the file (mode 0600) with a random key when
// it does not exist. Losing the file changes every callback secret.
func LoadOrCreateMasterKey(dataDir string) ([]byte, error) {
	path := filepath.Join(dataDir, MasterKeyFile)
	key, err := readMasterKey(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	key = make([]byte, MasterKeyLen)
	rand.Read(key)
	// Write a temporary file, then link it into place: another process
	// never reads a half-written key, and of two creators the first wins.
	f, err := os.CreateTemp(dataDir, "."+MasterKeyFile+".*")
	if err != nil {
		return nil, fmt.Errorf("tokenstore: create master key: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return nil, fmt.Errorf("tokenstore: create master key: %w", err)
	}
	_, werr := f.Write(key)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return nil, fmt.Errorf("tokenstore: write master key: %w", werr)
	}
	if err := os.Link(tmp, path); errors.Is(err, fs.ErrExist) {
		return readMasterKey(path) // another process created it first
	} else if err != nil {
		return nil, fmt.Errorf("tokenstore: create master key: %w", err)
	}
	return key, nil
}

func readMasterKey(path string) ([]byte, error) {
	key, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokenstore: read master key: %w", err)
	}
	if len(key) != MasterKeyLen {
		return nil, fmt.Errorf("tokenstore: master key %s has %d bytes, want %d", path, len(key), MasterKeyLen)
	}
	return key, nil
}
