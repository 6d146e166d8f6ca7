/*
 * libsmpp34 (Debian libsmpp34-dev, the C "c-open-smpp-34" library) as an ESME
 * against a running smppd; compiled and driven by cmd/smppd/interop_test.go,
 * which parses the lines this prints (see ../README.md for the line protocol).
 *
 *   cc -o client client.c $(pkg-config --cflags --libs libsmpp34)
 *   ./client HOST PORT SYSTEM_ID PASSWORD trx DEST...
 *
 * libsmpp34 only packs and unpacks PDUs; the socket, the framing and the
 * state machine are here. Every PDU smppd sends is decoded with
 * smpp34_unpack2, so a PDU the library cannot parse fails the run with the
 * library's own error text and the PDU in hex.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <smpp34.h>
#include <smpp34_structs.h>
#include <smpp34_params.h>

static int sock = -1;
static uint32_t next_seq = 1;

static void fail(const char *what, const char *detail)
{
	printf("error %s: %s\n", what, detail);
	exit(1);
}

static void hex(const uint8_t *b, int n, char *out)
{
	for (int i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
	out[2 * n] = 0;
}

static void write_all(const uint8_t *b, int n)
{
	while (n > 0) {
		ssize_t w = write(sock, b, n);
		if (w <= 0)
			fail("write", "connection lost");
		b += w;
		n -= (int)w;
	}
}

static void read_all(uint8_t *b, int n)
{
	while (n > 0) {
		ssize_t r = read(sock, b, n);
		if (r <= 0)
			fail("read", "connection closed by smppd");
		b += r;
		n -= (int)r;
	}
}

/* send packs the struct t (whose header the caller filled but for the length)
 * and writes it. */
static void send_pdu(uint32_t id, void *t)
{
	uint8_t buf[2048];
	int len = 0;
	if (smpp34_pack(id, buf, sizeof buf, &len, t) != 0)
		fail("smpp34_pack", smpp34_strerror);
	write_all(buf, len);
}

/* All PDUs this client decodes, in one buffer big enough for any of them. */
typedef union {
	struct {
		uint32_t command_length, command_id, command_status, sequence_number;
	} h;
	bind_transceiver_resp_t bind_resp;
	submit_sm_resp_t submit_resp;
	deliver_sm_t deliver;
	enquire_link_t enquire;
	enquire_link_resp_t enquire_resp;
	unbind_resp_t unbind_resp;
	generic_nack_t nack;
} any_pdu;

/* recv_pdu reads one PDU and unpacks it with libsmpp34. */
static void recv_pdu(any_pdu *p)
{
	uint8_t buf[4096];
	read_all(buf, 4);
	uint32_t n = ntohl(*(uint32_t *)buf);
	if (n < 16 || n > sizeof buf)
		fail("read", "command_length out of range");
	read_all(buf + 4, (int)n - 4);
	memset(p, 0, sizeof *p);
	if (smpp34_unpack2(p, buf, (int)n) != 0) {
		char h[2 * sizeof buf + 1];
		hex(buf, (int)n, h);
		printf("unparsable %s\n", h);
		fail("smpp34_unpack2", smpp34_strerror);
	}
}

static void text_field(const char *text, const char *name, char *out, size_t size)
{
	char key[32];
	snprintf(key, sizeof key, "%s:", name);
	const char *s = text;
	while ((s = strstr(s, key)) != NULL) {
		if (s == text || s[-1] == ' ')
			break;
		s++;
	}
	if (s == NULL) {
		snprintf(out, size, "-");
		return;
	}
	s += strlen(key);
	size_t i = 0;
	while (s[i] && s[i] != ' ' && i + 1 < size) {
		out[i] = s[i];
		i++;
	}
	out[i] = 0;
}

/* handle_deliver answers a deliver_sm and prints it as a receipt line. */
static int handle_deliver(deliver_sm_t *d)
{
	deliver_sm_resp_t resp;
	memset(&resp, 0, sizeof resp);
	resp.command_id = DELIVER_SM_RESP;
	resp.command_status = ESME_ROK;
	resp.sequence_number = d->sequence_number;
	send_pdu(DELIVER_SM_RESP, &resp);

	if ((d->esm_class & 0x3c) != 0x04) {
		printf("mo %d\n", d->esm_class);
		destroy_tlv(d->tlv);
		return 0;
	}
	char text[255], id[80], stat[16], rid[80] = "-", state[8] = "-";
	memcpy(text, d->short_message, d->sm_length);
	text[d->sm_length] = 0;
	text_field(text, "id", id, sizeof id);
	text_field(text, "stat", stat, sizeof stat);
	for (tlv_t *t = d->tlv; t != NULL; t = t->next) {
		if (t->tag == TLVID_receipted_message_id) {
			int n = t->length;
			if (n > 0 && t->value.octet[n - 1] == 0)
				n--; /* a C-Octet String: the NUL is part of the value */
			snprintf(rid, sizeof rid, "%.*s", n, (char *)t->value.octet);
		} else if (t->tag == TLVID_message_state) {
			snprintf(state, sizeof state, "%d", t->value.val08);
		}
	}
	destroy_tlv(d->tlv);
	printf("receipt %s %s %s %s %d\n", rid, id, stat, state, d->esm_class);
	return 1;
}

/* await reads until the response to seq arrives, answering deliver_sm and
 * enquire_link on the way; it returns the number of receipts seen. */
static int await(uint32_t resp_id, uint32_t seq, any_pdu *p)
{
	int receipts = 0;
	for (;;) {
		recv_pdu(p);
		if (p->h.command_id == DELIVER_SM) {
			receipts += handle_deliver(&p->deliver);
		} else if (p->h.command_id == ENQUIRE_LINK) {
			enquire_link_resp_t r;
			memset(&r, 0, sizeof r);
			r.command_id = ENQUIRE_LINK_RESP;
			r.sequence_number = p->h.sequence_number;
			send_pdu(ENQUIRE_LINK_RESP, &r);
		} else if (p->h.command_id == resp_id && p->h.sequence_number == seq) {
			return receipts;
		} else {
			char msg[80];
			snprintf(msg, sizeof msg, "command_id 0x%08x seq %u", p->h.command_id, p->h.sequence_number);
			fail("unexpected PDU", msg);
		}
	}
}

int main(int argc, char **argv)
{
	if (argc < 7 || strcmp(argv[5], "trx") != 0) {
		fprintf(stderr, "usage: client HOST PORT SYSTEM_ID PASSWORD trx DEST...\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	alarm(20); /* SIGALRM ends a hung run; the Go test reports the missing lines */

	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
	if (getaddrinfo(argv[1], argv[2], &hints, &ai) != 0)
		fail("getaddrinfo", argv[1]);
	sock = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
	if (sock < 0 || connect(sock, ai->ai_addr, ai->ai_addrlen) != 0)
		fail("connect", "refused");
	freeaddrinfo(ai);

	any_pdu p;
	bind_transceiver_t b;
	memset(&b, 0, sizeof b);
	b.command_id = BIND_TRANSCEIVER;
	b.sequence_number = next_seq++;
	snprintf((char *)b.system_id, sizeof b.system_id, "%s", argv[3]);
	snprintf((char *)b.password, sizeof b.password, "%s", argv[4]);
	b.interface_version = SMPP_VERSION;
	send_pdu(BIND_TRANSCEIVER, &b);
	await(BIND_TRANSCEIVER_RESP, b.sequence_number, &p);
	printf("bind transceiver %u\n", p.h.command_status);
	destroy_tlv(p.bind_resp.tlv);
	if (p.h.command_status != ESME_ROK)
		fail("bind_transceiver", "refused");

	int wanted = argc - 6, receipts = 0;
	for (int i = 6; i < argc; i++) {
		submit_sm_t s;
		memset(&s, 0, sizeof s);
		s.command_id = SUBMIT_SM;
		s.sequence_number = next_seq++;
		s.source_addr_ton = TON_International;
		s.source_addr_npi = NPI_ISDN_E163_E164;
		snprintf((char *)s.source_addr, sizeof s.source_addr, "15550001");
		s.dest_addr_ton = TON_International;
		s.dest_addr_npi = NPI_ISDN_E163_E164;
		snprintf((char *)s.destination_addr, sizeof s.destination_addr, "%s", argv[i]);
		s.registered_delivery = 1;
		const char *text = "hello from libsmpp34";
		s.sm_length = (uint8_t)strlen(text);
		memcpy(s.short_message, text, s.sm_length);
		send_pdu(SUBMIT_SM, &s);
		receipts += await(SUBMIT_SM_RESP, s.sequence_number, &p);
		printf("submit %s %u %s\n", argv[i], p.h.command_status,
		       p.submit_resp.message_id[0] ? (char *)p.submit_resp.message_id : "-");
		if (p.h.command_status != ESME_ROK)
			wanted--; /* a refused submit owes no receipt */
	}
	while (receipts < wanted) {
		recv_pdu(&p);
		if (p.h.command_id != DELIVER_SM) {
			char msg[40];
			snprintf(msg, sizeof msg, "command_id 0x%08x", p.h.command_id);
			fail("unexpected PDU while waiting for receipts", msg);
		}
		receipts += handle_deliver(&p.deliver);
	}

	enquire_link_t e;
	memset(&e, 0, sizeof e);
	e.command_id = ENQUIRE_LINK;
	e.sequence_number = next_seq++;
	send_pdu(ENQUIRE_LINK, &e);
	await(ENQUIRE_LINK_RESP, e.sequence_number, &p);
	printf("enquire_link %u\n", p.h.command_status);

	unbind_t u;
	memset(&u, 0, sizeof u);
	u.command_id = UNBIND;
	u.sequence_number = next_seq++;
	send_pdu(UNBIND, &u);
	await(UNBIND_RESP, u.sequence_number, &p);
	printf("unbind %u\n", p.h.command_status);
	close(sock);
	printf("done\n");
	return 0;
}
