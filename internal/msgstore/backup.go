package msgstore

import (
	"io"

	bolt "go.etcd.io/bbolt"
)

// WriteTo writes a consistent copy of the whole database file to w from one
// read transaction, while writers go on: a hot backup (smppd backup). The
// copy opens as an ordinary bbolt file.
func (s *Store) WriteTo(w io.Writer) (n int64, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		n, err = tx.WriteTo(w)
		return err
	})
	return n, err
}
