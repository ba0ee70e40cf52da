// What compile makes of static forwards' DNS names and of the proxy section: published names in the WAN view,
// and every name that would lead nowhere or mean two things refused at its key.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compile } from '../../src/compile/compile.js';
import { demoWith, problemsOf } from '../support/compile-config.js';


const forwards = (...rules: object[]) => ({ innerAddress: '192.168.0.1', rules });

describe('compile: static forwards and the proxy', () => {
  it("publishes a forward's name: A to its public address, SRV _<port>._<proto> per port", async () => {
    const c = compile(
      await demoWith((c) => {
        c.forwards = forwards({ name: 'ssh-hosta', protocol: 'tcp', port: [2222, 2223], to: { address: '192.168.0.100', port: 22 }, dns: 'ssh-fixed.gwa.demo' });
      }),
    );
    const tree = c.views.wan.tree;
    const rdata = (name: string, type: string) => {
      const l = tree.lookup(name);
      return l.kind === 'exists' ? l.node?.get(type)?.map((r) => r.data) : l.kind;
    };
    assert.deepEqual(rdata('ssh-fixed.gwa.demo', 'A'), ['100.64.1.130']);
    for (const port of [2222, 2223]) {
      assert.deepEqual(rdata(`_${port}._tcp.ssh-fixed.gwa.demo`, 'SRV'), [{ priority: 10, weight: 100, port, target: 'ssh-fixed.gwa.demo' }]);
    }
    assert.equal(rdata('_2224._tcp.ssh-fixed.gwa.demo', 'SRV'), 'nxdomain');
  });

  it("refuses a forward's name outside our zones or already meaning something", async () => {
    const file = await demoWith((c) => {
      c.forwards = forwards(
        { name: 'a', protocol: 'tcp', port: 2222, to: { address: '192.168.0.100', port: 22 }, dns: 'ssh.example.com' },
        { name: 'b', protocol: 'tcp', port: 2223, to: { address: '192.168.0.100', port: 22 }, dns: 'ssh.hosta.gwa.demo' },
      );
    });
    const problems = problemsOf(file);
    assert.equal(problems.length, 2, problems.join('\n'));
    assert.match(problems[0], /^forwards\.rules\.0\.dns: "ssh\.example\.com" is not inside one of the zones/);
    assert.match(problems[1], /^forwards\.rules\.1\.dns: "ssh\.hosta\.gwa\.demo" already has a meaning in the zones or policies$/);
  });

  it('a proxy section carries exactly the proxy_required names; its proxyProtocol entries must name them', async () => {
    const c = compile(await demoWith());
    assert.deepEqual(c.proxy?.names, [
      { fqdn: 'www.hosta.gwa.demo', hostId: 'hosta.gwa.demo', address: '192.168.0.100' },
      { fqdn: 'www.hostb.gwa.demo', hostId: 'hostb.gwa.demo', address: '192.168.0.101' },
    ], "the demo's proxy_required names, each to its host");
    const bad = await demoWith((c) => (c.proxy = { http: 443, tls: 443, proxyProtocol: ['nobody.gwa.demo'] }));
    assert.deepEqual(problemsOf(bad), [
      'proxy.proxyProtocol.0: "nobody.gwa.demo" is neither a proxy_required name nor a host with one',
      'proxy.tls: the HTTP and TLS relays cannot share port 443',
    ]);
  });
});
