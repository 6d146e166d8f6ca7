package gateway

import (
	"net/netip"
	"sync"
	"time"
)

// bindGuard slows down password guessing. Failed binds are counted in two
// token buckets, one per source address and one per system_id, each holding
// failBurst failures and refilling one every failRefill. While either is
// empty, binds from that address or to that system_id are refused with
// ESME_RBINDFAIL without looking at the password, so guesses then teach
// nothing. A system_id's bucket would let an attacker lock its owner out, so
// addresses that bound that system_id successfully in the last day skip it
// (they still have their own address bucket).
//
// With the defaults an attacker gets at most 10 + 86,400/6 = 14,410
// guesses a day at one system_id, from any number of addresses. An
// 8-character password from tokenstore's 56-character alphabet has
// 56^8 ≈ 9.7·10^13 values: searching half of them takes ≈ 3.4·10^9 days.
type bindGuard struct {
	mu   sync.Mutex
	ip   map[netip.Addr]*failBucket
	sys  map[string]*failBucket
	good map[string]map[netip.Addr]time.Time // system_id → addresses that bound it
}

const (
	failBurst     = 10
	failRefill    = 6 * time.Second
	goodFor       = 24 * time.Hour
	guardMaxKeys  = 100_000 // per map; a flood of addresses cannot grow it without bound
	goodMaxPerSys = 64
)

type failBucket struct {
	failures float64 // failures "in the bucket"; full at failBurst
	last     time.Time
}

// level returns the failures still counted at now.
func (b *failBucket) level(now time.Time) float64 {
	drained := now.Sub(b.last).Seconds() / failRefill.Seconds()
	return max(b.failures-drained, 0)
}

func newBindGuard() *bindGuard {
	return &bindGuard{
		ip:   make(map[netip.Addr]*failBucket),
		sys:  make(map[string]*failBucket),
		good: make(map[string]map[netip.Addr]time.Time),
	}
}

// allow reports whether a bind from ip to systemID may be checked at all.
func (g *bindGuard) allow(ip netip.Addr, systemID string, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if b := g.ip[ip]; b != nil && b.level(now) > failBurst-1 {
		return false
	}
	if t, ok := g.good[systemID][ip]; ok && now.Sub(t) < goodFor {
		return true
	}
	if b := g.sys[systemID]; b != nil && b.level(now) > failBurst-1 {
		return false
	}
	return true
}

// failed counts a failed bind.
func (g *bindGuard) failed(ip netip.Addr, systemID string, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	add := func(b *failBucket) {
		b.failures = b.level(now) + 1
		b.last = now
	}
	if b := g.ip[ip]; b != nil {
		add(b)
	} else if len(g.ip) < guardMaxKeys {
		g.ip[ip] = &failBucket{failures: 1, last: now}
	}
	if b := g.sys[systemID]; b != nil {
		add(b)
	} else if len(g.sys) < guardMaxKeys {
		g.sys[systemID] = &failBucket{failures: 1, last: now}
	}
}

// succeeded remembers ip as a good address of systemID.
func (g *bindGuard) succeeded(ip netip.Addr, systemID string, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	m := g.good[systemID]
	if m == nil {
		if len(g.good) >= guardMaxKeys {
			return
		}
		m = make(map[netip.Addr]time.Time)
		g.good[systemID] = m
	}
	if _, ok := m[ip]; ok || len(m) < goodMaxPerSys {
		m[ip] = now
	}
}

// sweep forgets drained buckets and stale good addresses.
func (g *bindGuard) sweep(now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for k, b := range g.ip {
		if b.level(now) == 0 {
			delete(g.ip, k)
		}
	}
	for k, b := range g.sys {
		if b.level(now) == 0 {
			delete(g.sys, k)
		}
	}
	for sys, m := range g.good {
		for ip, t := range m {
			if now.Sub(t) >= goodFor {
				delete(m, ip)
			}
		}
		if len(m) == 0 {
			delete(g.good, sys)
		}
	}
}
