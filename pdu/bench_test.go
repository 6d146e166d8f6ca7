package pdu

import (
	"bytes"
	"testing"

	gopdu "github.com/fiorix/go-smpp/smpp/pdu"
)

// loop runs f b.N times (via b.Loop) and also reports cpu-ns/op, the
// process CPU time per operation, which stays meaningful when other
// processes share the machine.
func loop(b *testing.B, f func()) {
	b.ReportAllocs()
	start := processCPU()
	n := 0
	for b.Loop() {
		f()
		n++
	}
	if cpu := processCPU() - start; cpu > 0 && n > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(n), "cpu-ns/op")
	}
}

func sampleNamed(tb testing.TB, name string) sample {
	for _, s := range samples() {
		if s.name == name {
			return s
		}
	}
	tb.Fatalf("no sample %q", name)
	return sample{}
}

// BenchmarkDecode measures the decoders on a submit_sm with a 160-character
// text and on a deliver_sm receipt with its three TLVs.
func BenchmarkDecode(b *testing.B) {
	for _, name := range []string{"submit_sm_160", "deliver_sm"} {
		wire := encode(b, sampleNamed(b, name))
		h, _ := ParseHeader(wire)
		body := wire[HeaderLen:]
		b.Run(name+"/Decode", func(b *testing.B) {
			b.SetBytes(int64(len(wire)))
			loop(b, func() {
				if _, err := Decode(h, body); err != nil {
					b.Fatal(err)
				}
			})
		})
		b.Run(name+"/DecodeBody", func(b *testing.B) {
			p, _ := New(h.ID)
			b.SetBytes(int64(len(wire)))
			loop(b, func() {
				if err := p.DecodeBody(body); err != nil {
					b.Fatal(err)
				}
			})
		})
		b.Run(name+"/View", func(b *testing.B) {
			var v SubmitSMView
			b.SetBytes(int64(len(wire)))
			loop(b, func() {
				if err := v.Decode(h.ID, body); err != nil {
					b.Fatal(err)
				}
			})
		})
		b.Run(name+"/go-smpp", func(b *testing.B) {
			b.SetBytes(int64(len(wire)))
			loop(b, func() {
				if _, err := gopdu.Decode(bytes.NewReader(wire)); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// BenchmarkEncode measures Append into a reused buffer.
func BenchmarkEncode(b *testing.B) {
	for _, name := range []string{"submit_sm_160", "deliver_sm"} {
		s := sampleNamed(b, name)
		b.Run(name, func(b *testing.B) {
			buf := make([]byte, 0, 512)
			b.SetBytes(int64(len(encode(b, s))))
			loop(b, func() {
				var err error
				if buf, err = Append(buf[:0], s.seq, s.status, s.pdu); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// BenchmarkReadFrame measures framing alone, from an endless stream of one
// submit_sm.
func BenchmarkReadFrame(b *testing.B) {
	frame := encode(b, sampleNamed(b, "submit_sm_160"))
	r := NewReader(&loopReader{frame: frame}, 0)
	b.SetBytes(int64(len(frame)))
	loop(b, func() {
		if _, _, err := r.ReadFrame(); err != nil {
			b.Fatal(err)
		}
	})
}
