// The ipvs backend's decisions without a kernel: commands per diff with their undo, refusals, ownership of
// services found in the kernel, counters per lease, and the SNAT chain's iptables-restore text.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseIptablesSave } from '../../src/dataplane/iptables.js';
import { makeLease, type Lease } from '../../src/workers/lease.js';
import { parseIpvsSave, parseIpvsStats } from '../../src/workers/backends/ipvs-parse.js';
import {
  IpvsBackendError,
  type IpvsScope,
  countersByLease,
  ownership,
  planDiff,
  planStart,
  restoredLeaseProblems,
  scopeProblems,
} from '../../src/workers/backends/ipvs-plan.js';
import { SNAT_CHAIN, renderSnatInstall, renderSnatRemoval } from '../../src/workers/backends/ipvs-snat.js';

const SCOPE: IpvsScope = { publicAddress: '100.64.9.1', privateAddress: '10.9.0.1', privateNetwork: '10.9.0.0/24', ports: [30000, 30099] };
const tcp = makeLease('w1', { port: 10053, protocol: 'tcp' }, 30010, '10.9.0.2');
const udp = makeLease('w1', { port: 10053, protocol: 'udp' }, 30011, '10.9.0.2');
const mapped = (...leases: Lease[]) => new Map(leases.map((l) => [`${l.protocol}/${l.publicPort}`, l]));

describe('planDiff', () => {
  it('adds a virtual service (wrr) and its masquerading real server (weight 100), each undoable', () => {
    const plan = planDiff(new Map(), { add: [tcp], remove: [] }, SCOPE);
    assert.deepEqual(plan.steps, [
      { run: ['-A', '-t', '100.64.9.1:30010', '-s', 'wrr'], undo: [['-D', '-t', '100.64.9.1:30010']] },
      { run: ['-a', '-t', '100.64.9.1:30010', '-r', '10.9.0.2:10053', '-m', '-w', '100'], undo: [['-d', '-t', '100.64.9.1:30010', '-r', '10.9.0.2:10053']] },
    ]);
    assert.deepEqual([...plan.next.keys()], ['tcp/30010']);
  });

  it('removes before it adds; undoing a removal recreates service and real server', () => {
    const moved = makeLease('w1', { port: 10053, protocol: 'udp' }, 30011, '10.9.0.7');
    const plan = planDiff(mapped(tcp, udp), { add: [moved], remove: [udp] }, SCOPE);
    assert.deepEqual(plan.steps.map((s) => s.run), [
      ['-D', '-u', '100.64.9.1:30011'],
      ['-A', '-u', '100.64.9.1:30011', '-s', 'wrr'],
      ['-a', '-u', '100.64.9.1:30011', '-r', '10.9.0.7:10053', '-m', '-w', '100'],
    ]);
    assert.deepEqual(plan.steps[0].undo, [
      ['-A', '-u', '100.64.9.1:30011', '-s', 'wrr'],
      ['-a', '-u', '100.64.9.1:30011', '-r', '10.9.0.2:10053', '-m', '-w', '100'],
    ]);
    assert.equal(plan.next.get('udp/30011')?.target.address, '10.9.0.7');
    assert.equal(plan.next.get('tcp/30010'), tcp);
  });

  it('refuses a diff whole, naming every problem, when any part is wrong', () => {
    const outside = makeLease('w2', { port: 22, protocol: 'tcp' }, 30020, '192.168.0.5');
    const offRange = makeLease('w2', { port: 23, protocol: 'tcp' }, 8080, '10.9.0.3');
    const self = makeLease('w2', { port: 24, protocol: 'udp' }, 30021, '10.9.0.1');
    const err = (() => {
      try {
        planDiff(mapped(tcp), { add: [tcp, outside, offRange, self], remove: [udp] }, SCOPE);
      } catch (e) {
        return e as IpvsBackendError;
      }
      assert.fail('planDiff accepted a bad diff');
    })();
    assert.ok(err instanceof IpvsBackendError);
    assert.equal(err.code, 'RGW_IPVS_BAD_DIFF');
    for (const part of ['remove udp/30011: not mapped', 'add tcp/30010: already mapped', 'outside the private network', 'outside the lease range', 'is the gateway itself']) {
      assert.match(err.message, new RegExp(part.replace(/[/.]/g, '\\$&')));
    }
  });

  it('refuses removing a lease whose target differs from the mapped one', () => {
    const other = makeLease('w1', { port: 10053, protocol: 'tcp' }, 30010, '10.9.0.9');
    assert.throws(() => planDiff(mapped(tcp), { add: [], remove: [other] }, SCOPE), /mapped to 10\.9\.0\.2:10053/);
  });
});

describe('ownership and start', () => {
  const kernel = parseIpvsSave(
    [
      '-A -t 100.64.9.1:80 -s rr', // the public address, outside the range: a bystander
      '-A -t 100.64.9.1:30010 -s wrr', // exactly tcp: kept
      '-a -t 100.64.9.1:30010 -r 10.9.0.2:10053 -m -w 100',
      '-A -u 100.64.9.1:30011 -s wrr', // ours, but pointing elsewhere: replaced
      '-a -u 100.64.9.1:30011 -r 10.9.0.5:10053 -m -w 100',
      '-A -t 100.64.9.1:30020 -s wrr', // a killed run between -A and -a: stale
      '-A -t 100.64.9.1:30050 -s wrr -p 300', // in range but persistent: not ours
      '-A -t 100.64.9.1:30051 -s rr', // in range, another scheduler: not ours
      '-A -t 10.77.0.1:30010 -s wrr', // same port, other address: not ours
      '-a -t 10.77.0.1:30010 -r 10.9.0.2:10053 -m -w 100',
      '-A -f 7 -s wrr',
      '',
    ].join('\n'),
  );

  it('recognises only services on the public address, in the range, of our shape', () => {
    assert.deepEqual(
      kernel.map((s) => ownership(s, SCOPE)),
      ['elsewhere', 'ours', 'ours', 'ours', 'foreign-in-range', 'foreign-in-range', 'elsewhere', 'elsewhere'],
    );
  });

  it('keeps exact matches, deletes other leftovers of ours, adds the rest, leaves the others alone', () => {
    const plan = planStart(kernel, [tcp, udp], SCOPE);
    assert.deepEqual(plan.kept, [tcp]);
    assert.deepEqual(plan.add, [udp]);
    assert.deepEqual(plan.stale.map((s) => s.spec.join(' ')), ['-u 100.64.9.1:30011', '-t 100.64.9.1:30020']);
    assert.deepEqual(plan.foreign.map((s) => s.spec.join(' ')), ['-t 100.64.9.1:30050', '-t 100.64.9.1:30051']);
  });

  it('checks restored leases and options', () => {
    assert.deepEqual(restoredLeaseProblems([tcp, udp], SCOPE), []);
    assert.match(restoredLeaseProblems([tcp, tcp], SCOPE).join(), /leased twice/);
    assert.deepEqual(scopeProblems(SCOPE), []);
    const bad = scopeProblems({ publicAddress: 'gw', privateAddress: '10.8.0.1', privateNetwork: '10.9.0.0/24', ports: [3, 2] });
    assert.equal(bad.length, 3, bad.join('\n'));
  });
});

describe('countersByLease', () => {
  it('takes each mapped lease\'s service totals by protocol and public port', () => {
    const stats = parseIpvsStats(
      ['TCP  100.64.9.1:30010   3   18   12   1081   854', 'UDP  100.64.9.1:30010   9   9   9   9   9', 'UDP  100.64.9.1:30011   1   2   2   66   98', ''].join('\n'),
    );
    const c = countersByLease(stats, mapped(tcp, udp, makeLease('w2', { port: 1, protocol: 'tcp' }, 30012, '10.9.0.3')), SCOPE.publicAddress);
    assert.deepEqual(Object.fromEntries(c), {
      'tcp/30010': { connections: 3, packetsIn: 18, packetsOut: 12, bytesIn: 1081, bytesOut: 854 },
      'udp/30011': { connections: 1, packetsIn: 2, packetsOut: 2, bytesIn: 66, bytesOut: 98 },
    });
  });
});

describe('SNAT chain', () => {
  const leftovers = parseIptablesSave(
    [
      '*nat',
      ':PREROUTING ACCEPT [0:0]',
      ':POSTROUTING ACCEPT [0:0]',
      ':OTHER - [0:0]',
      `:${SNAT_CHAIN} - [0:0]`,
      `-A POSTROUTING -j ${SNAT_CHAIN}`,
      '-A POSTROUTING -o eth0 -j MASQUERADE',
      `-A POSTROUTING -j ${SNAT_CHAIN}`,
      `-A ${SNAT_CHAIN} -d 10.9.0.0/24 -j SNAT --to-source 10.9.0.1`,
      'COMMIT',
      '',
    ].join('\n'),
  );

  it('installs one chain with one rule limited to IPVS traffic to the lease range, one jump, dropping duplicates', () => {
    assert.equal(
      renderSnatInstall(leftovers, SCOPE),
      [
        '*nat',
        `:${SNAT_CHAIN} - [0:0]`,
        `-D POSTROUTING -j ${SNAT_CHAIN}`,
        `-D POSTROUTING -j ${SNAT_CHAIN}`,
        `-A ${SNAT_CHAIN} -d 10.9.0.0/24 -m ipvs --vaddr 100.64.9.1/32 --vdir ORIGINAL --vmethod MASQ -m conntrack --ctorigdstport 30000:30099 -j SNAT --to-source 10.9.0.1`,
        `-I POSTROUTING 1 -j ${SNAT_CHAIN}`,
        'COMMIT',
        '',
      ].join('\n'),
    );
  });

  it('removes jumps and chain, touching no other rule; nothing to do when nothing is ours', () => {
    assert.equal(renderSnatRemoval(leftovers), ['*nat', `-D POSTROUTING -j ${SNAT_CHAIN}`, `-D POSTROUTING -j ${SNAT_CHAIN}`, `-F ${SNAT_CHAIN}`, `-X ${SNAT_CHAIN}`, 'COMMIT', ''].join('\n'));
    assert.equal(renderSnatRemoval(parseIptablesSave('*nat\n:POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -j MASQUERADE\nCOMMIT\n')), '');
  });

  it('uses a name the data plane\'s `<prefix>-*` ownership can never claim', () => {
    assert.ok(!SNAT_CHAIN.includes('-'));
  });
});
