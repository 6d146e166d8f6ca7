// Package callback delivers delivery reports to a token's HTTP callback URL: the
// webhook side of receipts (issue 5), independent of whether the client also holds an
// SMPP receiver bind.
//
// # Flow
//
// The gateway enqueues a callback in the message store (msgstore) in the same commit
// as the state change it reports. After that commit the store hands the new callbacks
// to Sender.Offer (msgstore.Store.SetCallbackHook), so the hot path never reads them
// back; the Sender reads due callbacks from the store at start, when a retry comes
// due, after Notify, and for whatever Offer could not hold (it keeps at most
// 4·BatchSize waiting in memory). It POSTs them as JSON, signed, up to Sender.MaxBatch
// reports of one token per request, and records the outcome of each report in the
// store: ack (2xx, one write for the whole batch), retry with backoff, or give up.
// Nothing lives only in memory, so a restart resumes where the last run stopped; a
// request cut short by shutdown is sent again, with the same event_id.
//
// # Payload
//
// POST <callback URL>, Content-Type: application/json, a Batch: {"events":[…]} with
// one to Sender.MaxBatch (default 100) Events, always wrapped, even for one. Reports of
// one token due at the same time share a request; the sender never waits to fill one.
// A 2xx acknowledges every event of the request; a failure retries every one of them,
// each under the retry rules below (Retry-After applies to all); each event keeps its
// own event_id and attempt count. An event:
//
//	{
//	  "event_id": "evt_1000000000001c_2a",   // same on every retry: dedupe on it
//	  "type": "message.status",
//	  "attempt": 1,                          // 1 on the first try
//	  "message_id": "1000000000001c",        // as in submit_sm_resp
//	  "token_id": "tok_8f3a",
//	  "token_name": "acme",
//	  "source": "ACME",
//	  "destination": "34600000001",
//	  "status": "UNDELIV",                   // Appendix B stat: DELIVRD EXPIRED DELETED UNDELIV ACCEPTD UNKNOWN REJECTD ENROUTE
//	  "final": true,                         // false only for intermediate notifications
//	  "error_code": "001",                   // Appendix B err, "000" when delivered
//	  "submitted_at": "2026-11-30T00:41:07.123Z",
//	  "done_at": "2026-11-30T00:41:09.500Z",
//	  "segment": {"ref": 7, "total": 2, "part": 1}, // multipart only; each part reports on its own
//	  "test_mode": true
//	}
//
// # Signature
//
// Every request carries
//
//	Smppd-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
//	Smppd-Event-Id: <event_id>[,<event_id>…]   // the body's events, in order
//
// where secret is the token's callback secret ("whsec_…", used as is, prefix
// included). A receiver recomputes the MAC over the raw body bytes, compares in
// constant time, and rejects timestamps older than a few minutes (replays): Verify
// does all three. Unknown keys in the header are ignored and several v1 entries may
// appear; any one matching is enough.
//
// # Retries
//
// 2xx completes. Network errors, timeouts, 408, 429 and 5xx are retried with
// exponential backoff and full jitter (Sender.BaseBackoff doubling up to
// Sender.MaxBackoff) and never sooner than the answer's Retry-After (seconds or HTTP
// date), until
// Sender.RetryFor (24 h) after enqueue; then the callback is given up. Other answers
// (4xx, 3xx: redirects are not followed) give up after Sender.MaxClientErrorAttempts
// attempts. Given-up callbacks stay in the store (msgstore FailedCallbacks,
// CallbackFailures) for `smppd token show`.
//
// # Bounds
//
// At most Sender.Workers requests in flight, at most Sender.PerHost to one host:port
// (a batch is one request), each bounded by Sender.RequestTimeout; no goroutine per
// queued callback and at most 4·Sender.BatchSize queued callbacks in memory besides
// those in flight (more wait in the store). Sender.MaxRate counts requests. A receiver
// that hangs holds only its PerHost slots. While they are all busy, store reads pass
// over its reports by their stored URL (msgstore.DueRead.Skip), without decoding or
// rewriting them, and the next read starts after the skipped head (DueRead.From), so
// its backlog neither hides other tokens' callbacks nor costs the store a write per
// report. Reads never go back for it: when a slot frees up, the sender reads that
// host's passed-over reports alone, from where it left them (readBehind). A slow but working receiver's
// reports that waited in memory too long are pushed back (deferred) in one write.
// As a safety net, an idle sender's periodic read (Sender.PollInterval) starts from
// the head of the queues and logs a warning if it finds a report never attempted.
// The SMPP path never waits for the sender: it only writes to the store; the hand-over
// (Offer) takes a lock briefly and never blocks on I/O.
package callback
