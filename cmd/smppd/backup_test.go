package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/smppd/smppd/tokenstore"
)

// hotDB is a bbolt database that copies itself the way the stores'
// WriteTo does: one read transaction, Tx.WriteTo.
type hotDB struct{ db *bolt.DB }

func (h hotDB) WriteTo(w io.Writer) (n int64, err error) {
	err = h.db.View(func(tx *bolt.Tx) error {
		n, err = tx.WriteTo(w)
		return err
	})
	return n, err
}

// TestBackupWritesConsistentCopies backs up a database that is open and
// being written, then opens the copy: it holds every committed key, the
// master key is copied byte for byte, nothing temporary is left, and a
// second backup into the same directory is refused.
func TestBackupWritesConsistentCopies(t *testing.T) {
	dataDir := t.TempDir()
	db, err := bolt.Open(filepath.Join(dataDir, "messages.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	put := func(k string) {
		if err := db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("m"))
			if err != nil {
				return err
			}
			return b.Put([]byte(k), []byte("v-"+k))
		}); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"a", "b", "c"} {
		put(k)
	}
	key, err := tokenstore.LoadOrCreateMasterKey(dataDir)
	if err != nil {
		t.Fatal(err)
	}

	dir := filepath.Join(t.TempDir(), "backup", "one")
	res, err := backup(dir, dataDir, []backupSource{{"messages.db", hotDB{db}}})
	if err != nil {
		t.Fatal(err)
	}
	put("d") // after the backup: not in the copy
	if len(res.Files) != 2 || res.Files[0].Bytes == 0 {
		t.Fatalf("backup result %+v", res)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != "messages.db,"+tokenstore.MasterKeyFile {
		t.Errorf("backup directory holds %v", names)
	}
	copyDB, err := bolt.Open(filepath.Join(dir, "messages.db"), 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("opening the copy: %v", err)
	}
	defer copyDB.Close()
	var got []string
	copyDB.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("m")).ForEach(func(k, v []byte) error {
			got = append(got, string(k)+"="+string(v))
			return nil
		})
	})
	if strings.Join(got, " ") != "a=v-a b=v-b c=v-c" {
		t.Errorf("copy holds %v", got)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, tokenstore.MasterKeyFile)); !bytes.Equal(b, key) {
		t.Error("master key copy differs")
	}
	if fi, err := os.Stat(filepath.Join(dir, "messages.db")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("copy mode: %v %v", fi.Mode(), err)
	}

	if _, err := backup(dir, dataDir, []backupSource{{"messages.db", hotDB{db}}}); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("second backup into the same directory: %v", err)
	}
	if _, err := backup("relative/dir", dataDir, []backupSource{{"messages.db", hotDB{db}}}); err == nil || !strings.Contains(err.Error(), "absolute") {
		t.Errorf("relative directory: %v", err)
	}
	other := filepath.Join(t.TempDir(), "x")
	if _, err := backup(other, dataDir, []backupSource{{"messages.db", struct{}{}}}); err != errNoHotBackup {
		t.Errorf("store without WriteTo: %v", err)
	}
	if _, err := os.Stat(other); !os.IsNotExist(err) {
		t.Errorf("a refused backup created %s", other)
	}
}
