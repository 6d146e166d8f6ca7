package responder

import (
	"encoding/binary"
	"sync"
	"time"

	"github.com/smppd/smppd/pdu"
	bolt "go.etcd.io/bbolt"
)

var messagesBucket = []byte("messages")

// OpenDB opens (or creates) the bbolt file the responder stores messages in,
// with fsync on every commit as a durable store has it.
func OpenDB(path string) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, NoFreelistSync: true, InitialMmapSize: 1 << 30})
	if err != nil {
		return nil, err
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(messagesBucket)
		return err
	}); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// committer stores queued messages in one bbolt transaction per group: while
// one commit (and its fsync) runs, new messages queue up, and the next commit
// takes them all. An idle committer commits a lone message at once.
type committer struct {
	srv *Server

	mu      sync.Mutex
	cond    *sync.Cond
	queue   *batch
	spare   *batch
	closing bool
	done    chan struct{}
}

// batch keeps a group's keys and values in one arena: bbolt needs them only
// until the transaction commits, so the arena is reused.
type batch struct {
	arena []byte
	items []item
}

type item struct {
	c        *conn
	seq      uint32
	id       uint64
	key, val [2]int // arena offsets [start, end)
	rc       *receiptInfo
}

func newCommitter(srv *Server) *committer {
	cm := &committer{srv: srv, queue: &batch{}, spare: &batch{}, done: make(chan struct{})}
	cm.cond = sync.NewCond(&cm.mu)
	return cm
}

func (cm *committer) enqueue(c *conn, seq uint32, id uint64, body []byte, rc *receiptInfo) {
	cm.mu.Lock()
	b := cm.queue
	k0 := len(b.arena)
	b.arena = binary.BigEndian.AppendUint64(b.arena, id)
	v0 := len(b.arena)
	b.arena = append(b.arena, body...)
	b.items = append(b.items, item{c: c, seq: seq, id: id, key: [2]int{k0, v0}, val: [2]int{v0, len(b.arena)}, rc: rc})
	cm.mu.Unlock()
	cm.cond.Signal()
}

func (cm *committer) close() {
	cm.mu.Lock()
	cm.closing = true
	cm.mu.Unlock()
	cm.cond.Signal()
	<-cm.done
}

func (cm *committer) run() {
	defer close(cm.done)
	outs := make(map[*conn][]byte)
	for {
		cm.mu.Lock()
		for len(cm.queue.items) == 0 && !cm.closing {
			cm.cond.Wait()
		}
		if len(cm.queue.items) == 0 {
			cm.mu.Unlock()
			return
		}
		b := cm.queue
		cm.queue, cm.spare = cm.spare, nil
		cm.mu.Unlock()

		err := cm.srv.DB.Update(func(tx *bolt.Tx) error {
			bk := tx.Bucket(messagesBucket)
			bk.FillPercent = 1 // keys only grow: pack pages full
			for _, it := range b.items {
				if err := bk.Put(b.arena[it.key[0]:it.key[1]], b.arena[it.val[0]:it.val[1]]); err != nil {
					return err
				}
			}
			return nil
		})
		status := pdu.StatusOK
		if err != nil {
			status = pdu.StatusSysErr
			cm.srv.logger().Error("responder: commit failed", "err", err)
		}
		for _, it := range b.items {
			out := appendSubmitResp(outs[it.c], it.seq, status, it.id)
			if status == pdu.StatusOK {
				cm.srv.submits.Add(1)
				if it.rc != nil {
					it.c.wmu.Lock() // nextSeq
					out = it.c.appendReceipt(out, it.id, it.rc.src, it.rc.dst, it.rc.text, it.rc.at, time.Now())
					it.c.wmu.Unlock()
				}
			}
			outs[it.c] = out
		}
		for c, out := range outs {
			c.write(out) // a failed write ends that connection's reader too
		}
		clear(outs) // connections come and go; don't pin closed ones
		b.arena = b.arena[:0]
		clear(b.items)
		b.items = b.items[:0]
		cm.mu.Lock()
		cm.spare = b
		cm.mu.Unlock()
	}
}
