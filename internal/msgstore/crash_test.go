package msgstore

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// crashEnv names the store file a re-executed test binary submits to until it is killed.
const crashEnv = "MSGSTORE_CRASH_CHILD_DB"

// crashChild runs the child side of TestCrashKeepsAcknowledged when crashEnv is set: 16
// submitters loop forever, printing each id only after its done(nil), exactly where a gateway
// would send submit_sm_resp ESME_ROK. It never returns normally: the parent SIGKILLs it.
func crashChild() bool {
	path := os.Getenv(crashEnv)
	if path == "" {
		return false
	}
	s, err := Open(path, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		os.Exit(2)
	}
	var out sync.Mutex
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				m := &Message{ID: s.NextID(), TokenID: "tok", TestMode: w%2 == 0, Body: []byte("crash"), Text: []byte("t")}
				ch := make(chan error, 1)
				s.Submit(m, func(err error) { ch <- err })
				if err := <-ch; err != nil {
					fmt.Fprintln(os.Stderr, "child submit:", err)
					os.Exit(3)
				}
				// One write(2) per line, shorter than PIPE_BUF: lines never interleave or tear.
				out.Lock()
				os.Stdout.WriteString(strconv.FormatUint(m.ID, 10) + "\n")
				out.Unlock()
			}
		}()
	}
	wg.Wait()
	return true
}

// TestCrashKeepsAcknowledged SIGKILLs a process that submits as fast as it can, several times
// over on the same file: every id it acknowledged is in the store after the crash, and no id is
// ever handed out twice across the crashes.
func TestCrashKeepsAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	path := newPath(t)
	all := make(map[uint64]bool)
	for round := range 3 {
		acked := runAndKill(t, path, 2000)
		for _, id := range acked {
			if all[id] {
				t.Fatalf("round %d: id %d acknowledged twice across crashes", round, id)
			}
			all[id] = true
		}
		s, err := Open(path, Options{})
		if err != nil {
			t.Fatalf("round %d: reopen after SIGKILL: %v", round, err)
		}
		for id := range all {
			if _, err := s.Get(id); err != nil {
				t.Errorf("round %d: acknowledged id %d lost: %v", round, id, err)
			}
		}
		st := s.Stats()
		if st.Messages < len(all) {
			t.Errorf("round %d: Stats().Messages = %d < %d acknowledged", round, st.Messages, len(all))
		}
		// Pending test-mode messages are still due after the crash.
		if due, err := s.Due(maxTime, 0); err != nil || len(due) != st.Pending {
			t.Errorf("round %d: Due() = %d messages, %v; want %d pending", round, len(due), err, st.Pending)
		}
		checkConsistency(t, s)
		if id := s.NextID(); all[id] {
			t.Errorf("round %d: NextID() after the crash = %d, already used", round, id)
		}
		t.Logf("round %d: %d acknowledged before SIGKILL, %d messages stored", round, len(acked), st.Messages)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// runAndKill starts the child on path, kills it with SIGKILL once it acknowledged at least n
// messages, and returns every id it printed.
func runAndKill(t *testing.T, path string, n int) []uint64 {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(stdout)
	var ids []uint64
	killed := false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
			break // a torn last line (none expected) is not an acknowledgement
		}
		id, perr := strconv.ParseUint(strings.TrimSuffix(line, "\n"), 10, 64)
		if perr != nil {
			t.Fatalf("child printed %q", line)
		}
		ids = append(ids, id)
		if len(ids) >= n && !killed {
			// Whatever the child wrote before it died is still in the pipe and read on.
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("child exited on its own: %v\n%s", err, stderr.String())
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child: %v, want killed by SIGKILL\n%s", err, stderr.String())
	}
	return ids
}
