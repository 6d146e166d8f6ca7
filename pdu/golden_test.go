package pdu

import (
	"bytes"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite pdu/testdata/*.hex from the samples")

// annotate renders a wire PDU as commented hex: one line per field, the
// field's spec name and value after '#'. Long fields wrap at 32 octets.
func annotate(t *testing.T, s sample, wire []byte) string {
	t.Helper()
	var out strings.Builder
	h, err := ParseHeader(wire)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&out, "# %s: %v, sequence %d, %v\n", s.name, h.ID, h.Seq, h.Status)
	fmt.Fprintf(&out, "# Generated from samples_test.go; regenerate with: go test ./pdu -run TestGolden -update\n")
	line := func(b []byte, note string) {
		for i := 0; i < len(b) || i == 0; i += 32 {
			chunk := b[i:min(i+32, len(b))]
			if i == 0 {
				fmt.Fprintf(&out, "%-66s # %s\n", hex.EncodeToString(chunk), note)
			} else {
				fmt.Fprintf(&out, "%s\n", hex.EncodeToString(chunk))
			}
		}
	}
	line(wire[0:4], fmt.Sprintf("command_length: %d", h.Length))
	line(wire[4:8], fmt.Sprintf("command_id: %v", h.ID))
	line(wire[8:12], fmt.Sprintf("command_status: %v", h.Status))
	line(wire[12:16], fmt.Sprintf("sequence_number: %d", h.Seq))
	body := wire[HeaderLen:]
	type span struct {
		field      string
		kind       byte
		start, end int
	}
	var spans []span
	fieldTrace = func(field string, kind byte, start, end int) { spans = append(spans, span{field, kind, start, end}) }
	defer func() { fieldTrace = nil }()
	if _, err := Decode(h, body); err != nil {
		t.Fatalf("Decode(%s) error: %v", s.name, err)
	}
	covered := 0
	for _, sp := range spans {
		if sp.start != covered {
			t.Fatalf("%s: trace gap at %d (next field %s at %d)", s.name, covered, sp.field, sp.start)
		}
		v := body[sp.start:sp.end]
		var note string
		switch sp.kind {
		case 'c':
			note = fmt.Sprintf("%s: %q", sp.field, v[:len(v)-1])
		case 'i':
			if len(v) == 4 {
				st := Status(uint32(v[0])<<24 | uint32(v[1])<<16 | uint32(v[2])<<8 | uint32(v[3]))
				note = fmt.Sprintf("%s: %v", sp.field, st)
			} else {
				note = fmt.Sprintf("%s: %d", sp.field, v[0])
			}
		case 'o':
			note = fmt.Sprintf("%s: %q", sp.field, v)
		case 't':
			note = fmt.Sprintf("%s (len %d): %q", sp.field, len(v)-4, v[4:])
		}
		line(v, note)
		covered = sp.end
	}
	if covered != len(body) {
		t.Fatalf("%s: trace covers %d of %d body octets", s.name, covered, len(body))
	}
	return out.String()
}

// parseHex reads an annotated hex file: '#' starts a comment, whitespace is
// ignored.
func parseHex(t *testing.T, text string) []byte {
	t.Helper()
	var digits strings.Builder
	for _, l := range strings.Split(text, "\n") {
		if i := strings.IndexByte(l, '#'); i >= 0 {
			l = l[:i]
		}
		digits.WriteString(strings.Join(strings.Fields(l), ""))
	}
	b, err := hex.DecodeString(digits.String())
	if err != nil {
		t.Fatalf("bad hex: %v", err)
	}
	return b
}

// TestGolden checks every sample against its annotated wire image in
// testdata/<name>.hex: the encoder must produce exactly those octets and the
// decoder must read them back into the sample.
func TestGolden(t *testing.T) {
	if *update {
		writeFuzzSeeds(t)
	}
	for _, s := range samples() {
		t.Run(s.name, func(t *testing.T) {
			wire := encode(t, s)
			path := filepath.Join("testdata", s.name+".hex")
			if *update {
				if err := os.WriteFile(path, []byte(annotate(t, s, wire)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			text, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			golden := parseHex(t, string(text))
			if !bytes.Equal(wire, golden) {
				t.Errorf("Append() differs from %s:\n got %x\nwant %x", path, wire, golden)
			}
			h, err := ParseHeader(golden)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(h, golden[HeaderLen:])
			if err != nil {
				t.Fatalf("Decode(golden) error: %v", err)
			}
			if diff := cmp.Diff(s.pdu, got); diff != "" {
				t.Errorf("Decode(golden) mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSamplesCoverEveryCommand keeps the corpus complete: each SMPP 3.4
// command has a golden file, a round trip and a fuzz seed.
func TestSamplesCoverEveryCommand(t *testing.T) {
	have := map[CommandID]bool{}
	for _, s := range samples() {
		have[s.pdu.CommandID()] = true
	}
	for id := CommandID(0); id <= 0x103; id++ {
		for _, c := range []CommandID{id, id.Response()} {
			if c.Known() && !have[c] {
				t.Errorf("no sample for %v", c)
			}
		}
	}
}
