// The gateway config's `pbra:` section: defaults of `pbra: {}`, inline settings, a Realm Gateway policy file
// named by rgwPolicy, and every problem as file:line: key.path: reason (all at once).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseConfigText, type HostFacts } from '../../src/config/load-config.js';
import { formatProblem, InputError } from '../../src/errors.js';
import { DEMO_TIERS } from '../../src/pbra/model.js';
import { parseIpv4 } from '../../src/util/ipv4.js';
import { fixture } from '../support/fixtures.js';
import { BASE } from '../support/config-text.js';

const HOST: HostFacts = { ephemeral: [32768, 60999] };
const DIR = fixture('pbra-rgw-demo');
const CONFIG = join(DIR, 'gateway.yaml'); // never read: the text is given; only its folder matters

const BASE_LINES = BASE.split('\n').length - 1;

const load = (pbra: string) => parseConfigText(`${BASE}${pbra}`, CONFIG, HOST);

function problems(pbra: string): string[] {
  try {
    load(pbra);
  } catch (e) {
    assert.ok(e instanceof InputError, String(e));
    return e.problems.map(formatProblem);
  }
  assert.fail('expected an InputError');
}

/** `file:line` of a line of the pbra text (1-based within it). */
const at = (n: number) => `${CONFIG}:${BASE_LINES + n}`;

describe('config pbra: section', () => {
  it('is off when absent', () => {
    assert.equal(load('').pbra, undefined);
  });

  it('`pbra: {}` turns the defences on with the demo tiers and safe defaults', () => {
    assert.deepEqual(load('pbra: {}\n').pbra, {
      proofs: { udp: ['cookie', 'cname', 'tcp'], tcp: [], followUpOverUdp: true },
      logUntrusted: false,
      cname: { windowMs: 5000, maxPending: 10_000 },
      cookies: { rotateMs: 3_600_000 },
      periodMs: 20_000,
      groups: [],
      tiers: DEMO_TIERS,
      requesterBudget: { share: 0.5 },
      ecsPrefixIpv4: 24,
      maxTrackedRequesters: 10_000,
      maxTrackedResolvers: 10_000,
    });
  });

  it('inline settings: groups with blocks, own tiers, proofs, paths relative to the config', () => {
    const c = load(`pbra:
  proofs: { udp: [tcp], tcp: [cname], followUpOverUdp: false }
  logUntrusted: true
  cname: { zone: alias.gwa.demo., windowMs: 3000, maxPending: 50 }
  cookies: { secretFile: secrets/cookie.key, rotateMs: 60000 }
  periodMs: 10000
  groups:
    - { name: isp, nodes: [192.0.2.0/24, 198.51.100.7], sla: true, initialReputation: 0.9 }
    - { nodes: [203.0.113.1] }
  tiers:
    - { loadMin: 50, loadMax: 100, fqdnNew: 0.5, sfqdnNew: 0.4, sfqdnReuse: 0.3, math: avg }
    - { loadMin: 0, loadMax: 50, fqdnNew: 0, sfqdnNew: 0, sfqdnReuse: 0, math: max }
  requesterBudget: { share: 0.25, max: 8 }
  ecsPrefixIpv4: 20
  maxTrackedRequesters: 100
  maxTrackedResolvers: 200
`).pbra!;
    assert.deepEqual(c.proofs, { udp: ['tcp'], tcp: ['cname'], followUpOverUdp: false });
    assert.equal(c.logUntrusted, true);
    assert.deepEqual(c.cname, { zone: 'alias.gwa.demo.', windowMs: 3000, maxPending: 50 });
    assert.deepEqual(c.cookies, { secretFile: join(DIR, 'secrets/cookie.key'), rotateMs: 60000 });
    assert.deepEqual(c.groups, [
      { name: 'isp', nodes: [{ network: parseIpv4('192.0.2.0'), prefixLength: 24 }, { network: parseIpv4('198.51.100.7'), prefixLength: 32 }], sla: true, initialReputation: 0.9 },
      { name: 'group-1', nodes: [{ network: parseIpv4('203.0.113.1'), prefixLength: 32 }], sla: false, initialReputation: 0.45 },
    ]);
    assert.equal(c.tiers.length, 2);
    assert.deepEqual(c.requesterBudget, { share: 0.25, max: 8 });
    assert.equal(c.rgwPolicy, undefined);
  });

  it("rgwPolicy reads Realm Gateway's file next to the config; the other keys stay inline", () => {
    const c = load('pbra:\n  rgwPolicy: circularpool.policy.yaml\n  periodMs: 5000\n').pbra!;
    assert.equal(c.rgwPolicy, join(DIR, 'circularpool.policy.yaml'));
    assert.deepEqual(c.groups.map((g) => [g.name, g.nodes.length, g.sla, g.initialReputation]), [
      ['DNS_GROUP_POLICY[0]', 1, true, 1],
      ['DNS_GROUP_POLICY[1]', 1, true, 0],
      ['DNS_GROUP_POLICY[2]', 4, false, 1],
    ]);
    assert.deepEqual(c.tiers, DEMO_TIERS);
    assert.deepEqual(c.proofs, { udp: ['tcp'], tcp: ['cname'], followUpOverUdp: true });
    assert.equal(c.periodMs, 5000);
    assert.equal(c.circularPoolMax, 500);
  });

  it('a key given both inline and by rgwPolicy, and an unreadable policy file', () => {
    assert.deepEqual(problems('pbra:\n  rgwPolicy: circularpool.policy.yaml\n  tiers: []\n  logUntrusted: true\n'), [
      `${at(3)}: pbra.tiers: is set by rgwPolicy (circularpool.policy.yaml); give it in one place only`,
      `${at(4)}: pbra.logUntrusted: is set by rgwPolicy (circularpool.policy.yaml); give it in one place only`,
    ]);
    const [missing] = problems('pbra:\n  rgwPolicy: nowhere.yaml\n');
    assert.ok(missing.startsWith(`${at(2)}: pbra.rgwPolicy: cannot read ${join(DIR, 'nowhere.yaml')}: ENOENT`), missing);
  });

  it("problems inside Realm Gateway's file carry that file's name and lines, next to the config's own", () => {
    const file = join(fixture('pbra-rgw-broken'), 'circularpool.policy.yaml');
    const list = problems('pbra:\n  rgwPolicy: ../pbra-rgw-broken/circularpool.policy.yaml\n');
    assert.deepEqual(list, [
      `${file}:4: CIRCULARPOOL.DNS_GROUP_POLICY[0].initial_reputation: must be a number 0..1, not 1.5`,
      `${file}:4: CIRCULARPOOL.DNS_GROUP_POLICY[0].sla: must be true or false, not the string "yes"`,
      `${file}:5: CIRCULARPOOL.DNS_GROUP_POLICY[1].nodes[1]: Realm Gateway matches node addresses literally; put CIDR blocks in realmgw's own pbra.groups`,
      `${file}:8: CIRCULARPOOL.CONTROL_VARIABLES.SYSTEM_LOAD[0].threshold_min: row 50..100 overlaps row [1] (0..60); rows may only meet at an end point`,
      `${file}:11: CIRCULARPOOL.CONTROL_VARIABLES.PBRA_DNS_POLICY_CNAEM: unknown key 'PBRA_DNS_POLICY_CNAEM' (did you mean 'PBRA_DNS_POLICY_CNAME'?)`,
    ]);
  });

  it('incoherent inline tiers and groups, repeated proofs', () => {
    assert.deepEqual(problems(`pbra:
  proofs: { udp: [cookie, tcp, cookie] }
  groups:
    - { nodes: [192.0.2.0/24] }
    - { nodes: [192.0.2.9] }
  tiers:
    - { loadMin: 0, loadMax: 60, fqdnNew: 0, sfqdnNew: 0, sfqdnReuse: 0, math: max }
    - { loadMin: 50, loadMax: 100, fqdnNew: 0, sfqdnNew: 0, sfqdnReuse: 0, math: max }
`), [
      `${at(2)}: pbra.proofs.udp[2]: "cookie" is listed twice`,
      `${at(8)}: pbra.tiers[1].loadMin: row 50..100 overlaps row [0] (0..60); rows may only meet at an end point`,
      `${at(5)}: pbra.groups[1].nodes[0]: 192.0.2.9 overlaps 192.0.2.0/24 of group [0] (group-0): a resolver belongs to one group`,
    ]);
  });

  it('schema mistakes: unknown keys, host bits, ranges, a proof that does not exist', () => {
    const list = problems(`pbra:
  perodMs: 1000
  groups:
    - { nodes: [192.0.2.1/24], initialReputation: 2 }
  tiers:
    - { loadMin: 0, loadMax: 100, fqdnNew: 0, sfqdnNew: 0, sfqdnReuse: 0, math: median }
  proofs: { udp: [dnssec] }
  requesterBudget: { share: 1.5 }
`);
    const has = (line: number, path: string, reason: RegExp) => assert.ok(list.some((p) => p.startsWith(`${at(line)}: ${path}: `) && reason.test(p)), `${line} ${path} ${reason} in\n${list.join('\n')}`);
    has(2, 'pbra.perodMs', /perodMs/);
    has(4, 'pbra.groups[0].nodes[0]', /no host bits/);
    has(4, 'pbra.groups[0].initialReputation', /1/);
    has(6, 'pbra.tiers[0].math', /min|max|avg/);
    has(7, 'pbra.proofs.udp[0]', /cookie/);
    has(8, 'pbra.requesterBudget.share', /1/);
  });
});
