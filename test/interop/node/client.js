// node-smpp (npm "smpp") as an ESME against a running smppd; driven by
// cmd/smppd/interop_test.go, which parses the lines this prints (see
// ../README.md for the line protocol).
//
//   node client.js HOST PORT SYSTEM_ID PASSWORD trx|txrx DEST...
//
// trx binds one transceiver; txrx binds a receiver and a transmitter and
// expects the receipts on the receiver. Each DEST gets one submit_sm with
// registered_delivery=1; the program waits for one receipt per accepted DEST, then
// sends enquire_link and unbind on every session.
'use strict';

const smpp = require('smpp');

const [host, port, systemID, password, mode, ...dests] = process.argv.slice(2);
if (!dests.length || (mode !== 'trx' && mode !== 'txrx')) {
	console.error('usage: node client.js HOST PORT SYSTEM_ID PASSWORD trx|txrx DEST...');
	process.exit(2);
}

function out(...fields) {
	console.log(fields.join(' '));
}

function fail(msg) {
	out('error', msg);
	process.exit(1);
}

setTimeout(() => fail('timeout: still waiting after 20s'), 20000).unref();

function connect() {
	return new Promise((resolve, reject) => {
		const s = smpp.connect({url: `smpp://${host}:${port}`}, () => resolve(s));
		s.on('error', (e) => fail('session error: ' + e.message));
	});
}

// request sends one PDU and resolves with its response.
function request(session, command, params) {
	return new Promise((resolve) => session[command](params || {}, resolve));
}

async function bind(kind) {
	const s = await connect();
	const resp = await request(s, 'bind_' + kind, {system_id: systemID, password: password});
	out('bind', kind, resp.command_status);
	if (resp.command_status !== 0) {
		fail(`bind_${kind} refused: ${resp.command_status}`);
	}
	return s;
}

// The text id: field of an SMPP 3.4 Appendix B receipt.
function textField(text, name) {
	const m = new RegExp('(?:^|\\s)' + name + ':(\\S*)').exec(text);
	return m ? m[1] : '-';
}

async function main() {
	let receiver, transmitter;
	if (mode === 'trx') {
		receiver = transmitter = await bind('transceiver');
	} else {
		receiver = await bind('receiver');
		transmitter = await bind('transmitter');
	}

	let want = dests.length;
	let allReceipts;
	const receiptsDone = new Promise((resolve) => { allReceipts = resolve; });
	receiver.on('deliver_sm', (pdu) => {
		receiver.send(pdu.response());
		const text = pdu.short_message && pdu.short_message.message !== undefined
			? String(pdu.short_message.message) : '';
		if ((pdu.esm_class & 0x3c) !== 0x04) {
			out('mo', pdu.esm_class);
			return;
		}
		out('receipt', pdu.receipted_message_id || '-', textField(text, 'id'), textField(text, 'stat'),
			pdu.message_state === undefined ? '-' : pdu.message_state, pdu.esm_class);
		if (--want === 0) {
			allReceipts();
		}
	});

	for (const dest of dests) {
		const resp = await request(transmitter, 'submit_sm', {
			source_addr_ton: 1, source_addr_npi: 1, source_addr: '15550001',
			dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: dest,
			registered_delivery: 1,
			short_message: 'hello from node-smpp',
		});
		out('submit', dest, resp.command_status, resp.message_id || '-');
		if (resp.command_status !== 0 && --want === 0) {
			allReceipts(); // a refused submit owes no receipt
		}
	}
	await receiptsDone;

	const sessions = receiver === transmitter ? [receiver] : [receiver, transmitter];
	for (const s of sessions) {
		const resp = await request(s, 'enquire_link');
		out('enquire_link', resp.command_status);
	}
	for (const s of sessions) {
		const resp = await request(s, 'unbind');
		out('unbind', resp.command_status);
		s.close();
	}
	out('done');
	process.exit(0);
}

main().catch((e) => fail(String(e && e.stack || e).replace(/\n/g, ' | ')));
