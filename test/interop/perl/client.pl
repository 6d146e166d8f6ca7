#!/usr/bin/perl
# Net::SMPP (Debian libnet-smpp-perl) as an ESME against a running smppd;
# driven by cmd/smppd/interop_test.go, which parses the lines this prints
# (see ../README.md for the line protocol).
#
#   perl client.pl HOST PORT SYSTEM_ID PASSWORD trx|txrx DEST...
#
# Net::SMPP's synchronous calls silently drop any PDU that arrives while they
# wait for their response (wait_pdu), and a receipt can arrive between two
# submits; so after the bind everything is sent with async => 1 and one
# select loop reads every session, answering deliver_sm as it comes.
use strict;
use warnings;
use Net::SMPP;
use IO::Select;

my ($host, $port, $system_id, $password, $mode, @dests) = @ARGV;
die "usage: perl client.pl HOST PORT SYSTEM_ID PASSWORD trx|txrx DEST...\n"
    unless @dests && ($mode eq 'trx' || $mode eq 'txrx');

$| = 1;
sub out { print join(' ', @_), "\n" }
sub fail { out('error', @_); exit 1 }

$SIG{ALRM} = sub { fail('timeout: still waiting after 20s') };
alarm 20;

sub bind_session {
    my ($kind) = @_;
    my $ctor = "new_$kind";
    my ($smpp, $resp) = Net::SMPP->$ctor($host, port => $port, system_id => $system_id,
        password => $password, timeout => 5);
    fail("bind_$kind: cannot connect: $!") unless $smpp;
    fail("bind_$kind: no response") unless $resp;
    out('bind', $kind, $resp->{status});
    fail("bind_$kind refused: $resp->{status}") if $resp->{status} != 0;
    return $smpp;
}

my ($receiver, $transmitter);
if ($mode eq 'trx') {
    $receiver = $transmitter = bind_session('transceiver');
} else {
    $receiver = bind_session('receiver');
    $transmitter = bind_session('transmitter');
}
my @sessions = $receiver == $transmitter ? ($receiver) : ($receiver, $transmitter);

# pending: "session-address/seq" => [what, extra...] for each request sent.
my %pending;
sub key_of { my ($s, $seq) = @_; return "$s/$seq" }

for my $dest (@dests) {
    my $seq = $transmitter->submit_sm(
        async => 1,
        source_addr_ton => 1, source_addr_npi => 1, source_addr => '15550001',
        dest_addr_ton => 1, dest_addr_npi => 1, destination_addr => $dest,
        registered_delivery => 1,
        short_message => 'hello from Net::SMPP',
    );
    $pending{key_of($transmitter, $seq)} = ['submit', $dest];
}

my $receipts_wanted = @dests;
my $phase = 'submit';    # submit -> enquire_link -> unbind
my $select = IO::Select->new(@sessions);

sub text_field {
    my ($text, $name) = @_;
    return $text =~ /(?:^|\s)\Q$name\E:(\S*)/ ? $1 : '-';
}

sub next_phase {
    if ($phase eq 'submit' && $receipts_wanted == 0 && !grep { $_->[0] eq 'submit' } values %pending) {
        $phase = 'enquire_link';
        for my $s (@sessions) {
            $pending{key_of($s, $s->enquire_link(async => 1))} = ['enquire_link'];
        }
    } elsif ($phase eq 'enquire_link' && !%pending) {
        $phase = 'unbind';
        for my $s (@sessions) {
            $pending{key_of($s, $s->unbind(async => 1))} = ['unbind'];
        }
    } elsif ($phase eq 'unbind' && !%pending) {
        out('done');
        exit 0;
    }
}

while (1) {
    for my $s ($select->can_read(1)) {
        my $pdu = $s->read_pdu() or fail('read_pdu: ' . (${*$s}{smpperror} // 'connection closed'));
        my $cmd = $pdu->{cmd};
        if ($cmd == Net::SMPP::CMD_deliver_sm) {
            $s->deliver_sm_resp(seq => $pdu->{seq}, message_id => '');
            my $esm = $pdu->{esm_class};
            if (($esm & 0x3c) != 0x04) {
                out('mo', $esm);
                next;
            }
            my $text = $pdu->{short_message} // '';
            my $state = defined $pdu->{message_state} ? unpack('C', $pdu->{message_state}) : '-';
            my $rid = $pdu->{receipted_message_id} // '-';
            $rid =~ s/\0+$//;    # the TLV is a C-Octet String: Net::SMPP keeps the NUL
            out('receipt', $rid, text_field($text, 'id'), text_field($text, 'stat'), $state, $esm);
            $receipts_wanted--;
        } elsif ($cmd == Net::SMPP::CMD_enquire_link) {
            $s->enquire_link_resp(seq => $pdu->{seq});
        } elsif ($cmd & 0x80000000) {
            my $req = delete $pending{key_of($s, $pdu->{seq})}
                or fail(sprintf('unexpected response cmd=0x%08x seq=%d', $cmd, $pdu->{seq}));
            if ($req->[0] eq 'submit') {
                my $id = defined $pdu->{message_id} && $pdu->{message_id} ne '' ? $pdu->{message_id} : '-';
                out('submit', $req->[1], $pdu->{status}, $id);
                $receipts_wanted-- if $pdu->{status} != 0;    # a refused submit owes no receipt
            } else {
                out($req->[0], $pdu->{status});
            }
            if ($req->[0] eq 'unbind') {    # smppd closes the connection after unbind_resp
                $select->remove($s);
                $s->close;
            }
        } else {
            fail(sprintf('unexpected request cmd=0x%08x', $cmd));
        }
    }
    next_phase();
}
