import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import dnsPacket from 'dns-packet';
import { rgwSrvRecords, rgwSrvTarget, rgwTxtRecords, rgwTxtString } from '../../../src/dns/answer/rgw-formats.js';

/** dns-packet's Answer union includes OPT, which has no `data`. */
const dataOf = (a: dnsPacket.Answer): unknown => (a as { data: unknown }).data;

const SSH = { port: 22, protocol: 6, proxyRequired: false };
const WEB = { port: 0, protocol: 0, proxyRequired: true };

/**
 * What a parent Realm Gateway does with our answers (its _do_resolve_carriergrade, restated): remove the name
 * it asked for, then read `key_value` labels. Anything else in the string breaks it.
 */
function parentReadsTxt(txt: string, asked: string): { [k: string]: string } {
  const out: { [k: string]: string } = {};
  for (const label of txt.replace(asked, '').split('.')) {
    if (label === '') continue;
    const [k, v, ...rest] = label.split('_');
    assert.equal(rest.length, 0, `label ${label}`);
    out[k] = v;
  }
  return out;
}
function parentReadsSrv(target: string, asked: string): { port: number; protocol: number } {
  const [p, q] = target.replace(asked, '').split('.');
  return { port: Number(p.split('_')[1]), protocol: Number(q.split('_')[1]) };
}

describe("Realm Gateway's SRV and TXT formats", () => {
  it('TXT string: proxy flag in Python spelling, port and protocol numbers, the asked name with its final dot', () => {
    assert.equal(rgwTxtString(SSH, 'ssh.hosta.gwa.demo'), 'proxy_False.port_22.protocol_6.ssh.hosta.gwa.demo.');
    assert.equal(rgwTxtString(WEB, 'www.hosta.gwa.demo.'), 'proxy_True.port_0.protocol_0.www.hosta.gwa.demo.');
    assert.equal(rgwTxtString({ port: 5060, protocol: 17, proxyRequired: false }, 'SIP.HostA.gwa.demo'), 'proxy_False.port_5060.protocol_17.SIP.HostA.gwa.demo.');
  });

  it('SRV target: _<port>._<protocol number>.<asked name>, any-port and any-protocol as 0', () => {
    assert.equal(rgwSrvTarget(SSH, 'ssh.hosta.gwa.demo.'), '_22._6.ssh.hosta.gwa.demo');
    assert.equal(rgwSrvTarget({ port: 2000, protocol: 132, proxyRequired: false }, 'sctp2000.h.gwa.demo'), '_2000._132.sctp2000.h.gwa.demo');
    assert.equal(rgwSrvTarget(WEB, 'www.hosta.gwa.demo'), '_0._0.www.hosta.gwa.demo');
  });

  it('TXT records: TTL 0, the allocated address for the asked name in the additional section', () => {
    assert.deepEqual(rgwTxtRecords(SSH, 'ssh.hosta.gwa.demo.', '100.64.1.131'), {
      answers: [{ name: 'ssh.hosta.gwa.demo', type: 'TXT', ttl: 0, data: ['proxy_False.port_22.protocol_6.ssh.hosta.gwa.demo.'] }],
      additionals: [{ name: 'ssh.hosta.gwa.demo', type: 'A', ttl: 0, data: '100.64.1.131' }],
    });
  });

  it('SRV records: 10 100 <port> <target>, TTL 0, the allocated address for the target in the additional section', () => {
    assert.deepEqual(rgwSrvRecords(SSH, 'ssh.hosta.gwa.demo', '100.64.1.132'), {
      answers: [{ name: 'ssh.hosta.gwa.demo', type: 'SRV', ttl: 0, data: { priority: 10, weight: 100, port: 22, target: '_22._6.ssh.hosta.gwa.demo' } }],
      additionals: [{ name: '_22._6.ssh.hosta.gwa.demo', type: 'A', ttl: 0, data: '100.64.1.132' }],
    });
  });

  it('survives the wire and reads back the way a parent Realm Gateway reads it', () => {
    for (const [s, asked] of [[SSH, 'ssh.hosta.gwa.demo'], [WEB, 'WWW.hosta.gwa.demo'], [{ port: 1234, protocol: 17, proxyRequired: false }, 'udp1234.h.gwa.demo']] as const) {
      const txt = rgwTxtRecords(s, asked, '100.64.1.133');
      const srv = rgwSrvRecords(s, asked, '100.64.1.133');
      const wire = dnsPacket.encode({
        type: 'response', id: 1, flags: dnsPacket.AUTHORITATIVE_ANSWER,
        answers: [...txt.answers, ...srv.answers] as dnsPacket.Answer[],
        additionals: [...txt.additionals, ...srv.additionals] as dnsPacket.Answer[],
      });
      const back = dnsPacket.decode(wire);
      const [t, v] = back.answers!;
      const text = (dataOf(t) as Buffer[]).map((b) => b.toString()).join('');
      // The parent asked with a trailing dot (dnspython names are absolute).
      assert.deepEqual(parentReadsTxt(text, `${asked}.`), { proxy: s.proxyRequired ? 'True' : 'False', port: String(s.port), protocol: String(s.protocol) });
      const target = (dataOf(v) as { target: string }).target;
      assert.deepEqual(parentReadsSrv(`${target}.`, `${asked}.`), { port: s.port, protocol: s.protocol });
      assert.deepEqual(back.additionals!.map((a) => [a.name, dataOf(a)]), [[asked, '100.64.1.133'], [target, '100.64.1.133']]);
    }
  });
});
