/**
 * The pure parts of the attack harness (test/support/attack/plan.ts, dns-cookie.ts): budgets that bound every
 * attack, the spoofer's command line, how flow outcomes are counted, and the client side of DNS cookies.
 * The spoofer itself (spoof.py) is run against a real gateway by test/e2e/attack.test.ts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import dnsPacket from 'dns-packet';
import { BADCOOKIE, cookieOptionData, ednsWithCookie, fullRcode, serverCookieOf } from '../support/attack/dns-cookie.js';
import { PYTHON, SPOOF_PY } from '../support/attack/attackers.js';
import {
  DEFAULT_PHASE_SETTINGS,
  failureReason,
  percent,
  phaseBudget,
  phaseSettingsFromEnv,
  spoofArgs,
  summariseFlows,
  worstFlowMs,
} from '../support/attack/plan.js';

describe('attack plan', () => {
  it('defaults to the issue\'s rates: 50x and 20x the legitimate rate, 2,000 SYNs/s', () => {
    const s = DEFAULT_PHASE_SETTINGS;
    assert.equal(s.spoofedUdpRate, 50 * s.legitRate);
    assert.equal(s.aggressiveRate, 20 * s.legitRate);
    assert.equal(s.synRate, 2000);
  });

  it('reads settings from the environment and refuses nonsense with the variable\'s name', () => {
    assert.deepEqual(phaseSettingsFromEnv({}), DEFAULT_PHASE_SETTINGS);
    assert.equal(phaseSettingsFromEnv({ RGW_ATTACK_FLOWS: '20' }).flows, 20);
    assert.throws(() => phaseSettingsFromEnv({ RGW_ATTACK_SYN_RATE: 'fast' }), /RGW_ATTACK_SYN_RATE/);
    assert.throws(() => phaseSettingsFromEnv({ RGW_ATTACK_FLOWS: '0' }), /RGW_ATTACK_FLOWS/);
  });

  it('bounds an attack by the workload it accompanies, in time and in count', () => {
    const s = { ...DEFAULT_PHASE_SETTINGS, flows: 100, legitRate: 10, attempts: 2 };
    const b = phaseBudget(s, 500);
    assert.equal(b.workloadMs, 10_000 + worstFlowMs(2));
    assert.ok(b.attackSeconds * 1000 > b.workloadMs, 'the attack outlasts the workload it must overlap');
    assert.equal(b.attackCount, 500 * b.attackSeconds);
    assert.equal(phaseBudget({ ...s, flows: 10_000, legitRate: 1 }, 1).attackSeconds, 600, 'never more than 10 minutes');
  });

  it('builds the spoofer\'s command line and refuses a job it would refuse', () => {
    assert.deepEqual(spoofArgs({ kind: 'syn', dst: ['100.64.1.131', '100.64.1.132'], ports: [22, 5000], rate: 2000, count: 100, seconds: 5 }), [
      'syn', '--dst', '100.64.1.131,100.64.1.132', '--ports', '22,5000', '--rate', '2000', '--count', '100', '--seconds', '5',
    ]);
    const dns = spoofArgs({ kind: 'dns', dst: ['100.64.1.130'], ports: [53], names: ['tcp.hosta.gwa.demo'], sources: ['198.18.0.0/15'], rate: 1, count: 1, seconds: 1 });
    assert.deepEqual(dns.slice(-4), ['--names', 'tcp.hosta.gwa.demo', '--sources', '198.18.0.0/15']);
    assert.throws(() => spoofArgs({ kind: 'dns', dst: ['100.64.1.130'], ports: [53], rate: 1, count: 1, seconds: 1 }), /names/);
    assert.throws(() => spoofArgs({ kind: 'syn', dst: ['pool'], ports: [0], rate: 0, count: 0, seconds: 601 }), /dst.*ports.*rate.*count.*seconds/);
  });

  it('counts flows, retries and failure reasons', () => {
    const s = summariseFlows([
      { ok: true, attempts: 1 },
      { ok: true, attempts: 2 },
      { ok: false, attempts: 2, reason: 'dns: timeout' },
      { ok: false, attempts: 2, reason: 'dns: timeout' },
      { ok: false, attempts: 2, reason: 'tcp: ECONNREFUSED' },
    ]);
    assert.deepEqual(s, { flows: 5, ok: 2, failed: 3, retried: 1, reasons: { 'dns: timeout': 2, 'tcp: ECONNREFUSED': 1 } });
    assert.equal(failureReason('tcp', 'ECONNREFUSED'), 'tcp: ECONNREFUSED');
    assert.equal(failureReason('tcp', 'closed without reply'), 'tcp: closed');
    assert.equal(failureReason('dns', undefined), 'dns: unknown');
    assert.equal(percent(99, 100), '99.0 %');
    assert.equal(percent(0, 0), '-');
  });
});

describe('DNS cookies, client side', () => {
  const client = Buffer.from('0123456789abcdef', 'hex');
  const server = Buffer.from('fedcba98765432100011223344556677', 'hex');
  const answer = (data: Buffer, extendedRcode = 0, rcode = 0) =>
    dnsPacket.decode(
      dnsPacket.encode({
        type: 'response',
        id: 1,
        flags: rcode,
        questions: [{ name: 'a.gwa.demo', type: 'A', class: 'IN' }],
        additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, extendedRcode, ednsVersion: 0, flags: 0, options: [{ code: 10, data }] } as unknown as dnsPacket.Answer],
      }),
    );

  it('sends the client cookie alone first, then with the server cookie echoed', () => {
    assert.deepEqual(cookieOptionData(client), client);
    assert.deepEqual(cookieOptionData(client, server), Buffer.concat([client, server]));
    assert.throws(() => cookieOptionData(Buffer.alloc(4)), /8 bytes/);
    const q = dnsPacket.decode(dnsPacket.encode({ type: 'query', id: 2, questions: [{ name: 'a.gwa.demo', type: 'A', class: 'IN' }], additionals: ednsWithCookie(client, server) }));
    assert.deepEqual(serverCookieOf(q, client), server, 'a query carrying both round-trips through the wire format');
  });

  it('learns a server cookie only from an answer to its own client cookie', () => {
    assert.deepEqual(serverCookieOf(answer(Buffer.concat([client, server])), client), server);
    assert.equal(serverCookieOf(answer(Buffer.concat([Buffer.alloc(8), server])), client), undefined, 'another client\'s cookie');
    assert.equal(serverCookieOf(answer(client), client), undefined, 'no server cookie');
    assert.equal(serverCookieOf(answer(Buffer.concat([client, Buffer.alloc(33)])), client), undefined, 'server cookie longer than 32 bytes');
  });

  it('reads BADCOOKIE from the header and OPT bits together', () => {
    assert.equal(fullRcode(answer(Buffer.concat([client, server]), BADCOOKIE >> 4, BADCOOKIE & 0xf)), BADCOOKIE);
    assert.equal(fullRcode(answer(client)), 0);
  });
});

describe('spoof.py', () => {
  it('refuses unbounded or malformed jobs before opening a raw socket', () => {
    for (const args of [
      ['syn', '--dst', '100.64.1.131', '--ports', '22', '--rate', '10', '--count', '0', '--seconds', '1'],
      ['syn', '--dst', '100.64.1.131', '--ports', '22', '--rate', '10', '--count', '10', '--seconds', '601'],
      ['dns', '--dst', '100.64.1.130', '--rate', '10', '--count', '10', '--seconds', '1'],
      ['syn', '--dst', 'not-an-address', '--ports', '22', '--rate', '10', '--count', '10', '--seconds', '1'],
    ]) {
      const r = spawnSync(PYTHON, [SPOOF_PY, ...args], { encoding: 'utf8' });
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    }
  });
});
