// The project's NFQUEUE addon (kernel/nfqueue) against the real kernel. Must run as root.
//
// Traffic tests build their own two namespaces, rgwt<hex>-c (client, 192.0.2.1) and rgwt<hex>-g
// (gateway, 192.0.2.2), joined by a veth; iptables/nft rules live in the gateway namespace only. The
// consumer runs in the gateway namespace as test/dataplane/fixtures/nfq-fixture.js (node cannot enter a
// namespace), which prints one JSON line per event and takes commands on stdin. Lifecycle tests (errors,
// close/re-open, leaks) run in this process: binding a queue number that no rule uses touches no traffic.
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { NfQueue, readKernelQueueStats, NF_HOOK, type QueuedPacket } from '../../src/dataplane/nfqueue.js';
import { run, type ExecOptions, type ExecResult, type NsProcess } from '../support/netns.js';
import { ScratchNamespaces } from '../support/scratch-ns.js';
import { DIST_DIR } from '../support/repo.js';
import type { QueueConfig, SendConfig } from './fixtures/nfq-fixture.js';

const FIXTURE = join(DIST_DIR, 'test', 'dataplane', 'fixtures', 'nfq-fixture.js');
const CLIENT_IP = '192.0.2.1';
const GW_IP = '192.0.2.2';
const GW_IF = 'vgw';
const MARK_A = 0x1234;
const MARK_B = 0xabcdef01; // top bit set: marks are full u32
const TEST_TIMEOUT = 60_000;

type Ev = Record<string, unknown> & { ev: string };

function parseEv(line: string): Ev | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const v = JSON.parse(line) as Ev;
    return typeof v.ev === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Two namespaces and a veth, removed by destroy() or, at the latest, when this process exits. */
class NsPair {
  private readonly scratch = new ScratchNamespaces();
  readonly client = this.scratch.ns('c');
  readonly gw = this.scratch.ns('g');

  static async create(): Promise<NsPair> {
    const pair = new NsPair();
    try {
      await pair.scratch.add('c');
      await pair.scratch.add('g');
      await pair.host('ip', ['link', 'add', 'vcl', 'netns', pair.client, 'type', 'veth', 'peer', 'name', GW_IF, 'netns', pair.gw]);
      for (const [ns, dev, addr] of [
        [pair.client, 'vcl', CLIENT_IP],
        [pair.gw, GW_IF, GW_IP],
      ] as const) {
        await pair.host('ip', ['-n', ns, 'addr', 'add', `${addr}/24`, 'dev', dev]);
        await pair.host('ip', ['-n', ns, 'link', 'set', dev, 'up']);
      }
    } catch (err) {
      await pair.destroy();
      throw err;
    }
    return pair;
  }

  /** Runs a command in the root namespace (only `ip` with -n / netns arguments is used). */
  host(cmd: string, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    return run(cmd, args, { check: true, ...opts });
  }

  exec(ns: string, cmd: string, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    return run('ip', ['netns', 'exec', ns, cmd, ...args], { check: true, ...opts });
  }

  spawnQueue(cfg: QueueConfig): QueueProc {
    return new QueueProc(this.scratch.spawn('g', process.execPath, [FIXTURE, 'queue', JSON.stringify(cfg)], { stdin: 'pipe' }));
  }

  /** Runs the fixture's sender in the client namespace; resolves with its result line. */
  async send(cfg: SendConfig, timeoutMs = 30_000): Promise<Ev> {
    const r = await this.exec(this.client, process.execPath, [FIXTURE, 'send', JSON.stringify(cfg)], { timeoutMs });
    const evs = r.stdout.split('\n').map(parseEv).filter((e): e is Ev => e !== undefined);
    const last = evs.at(-1);
    assert.ok(last && (last.ev === 'sent' || last.ev === 'tcp-result'), `sender output: ${r.stdout}${r.stderr}`);
    return last;
  }

  destroy(): Promise<void> {
    return this.scratch.down();
  }
}

/** The fixture's queue role: JSON events on stdout, commands on stdin. */
class QueueProc {
  constructor(readonly proc: NsProcess) {}

  /** Waits for an event (from line `fromLine` on) matching ev and pred. */
  async wait(ev: string, pred: (e: Ev) => boolean = () => true, timeoutMs = 10_000, fromLine = 0): Promise<Ev> {
    const line = await this.proc.ready(
      (text, stream) => {
        if (stream !== 'stdout') return false;
        const e = parseEv(text);
        return e !== undefined && e.ev === ev && pred(e);
      },
      timeoutMs,
      { fromLine },
    );
    return parseEv(line)!;
  }

  /** All events of a kind received so far. */
  events(ev: string): Ev[] {
    return this.proc.lines
      .filter((l) => l.stream === 'stdout')
      .map((l) => parseEv(l.text))
      .filter((e): e is Ev => e !== undefined && e.ev === ev);
  }

  /** Sends a command and waits for the answer event. */
  async command(cmd: string, answer: string, timeoutMs = 10_000): Promise<Ev> {
    const from = this.proc.lineCount;
    this.proc.child.stdin!.write(`${cmd}\n`);
    return this.wait(answer, () => true, timeoutMs, from);
  }

  async stats(): Promise<FixtureStats> {
    return (await this.command('stats', 'stats')) as unknown as FixtureStats;
  }

  /** Polls stats until pred holds (or the time is up; the last stats are returned either way). */
  async statsWhen(pred: (s: FixtureStats) => boolean, timeoutMs = 10_000): Promise<FixtureStats> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await this.stats();
      if (pred(s) || Date.now() > deadline) return s;
      await sleep(100);
    }
  }

  async exit(): Promise<void> {
    if (!this.proc.running) return;
    this.proc.child.stdin!.end('exit\n');
    const t = setTimeout(() => void this.proc.stop('SIGTERM', 2_000), 5_000);
    await this.proc.exited;
    clearTimeout(t);
  }
}

interface FixtureStats {
  pkts: number;
  firstPktAt: number;
  lastPktAt: number;
  stats: { received: number; verdicts: number; errors: number; enobufs: number; truncated: number; stashed: number };
  kernel: { queueTotal: number; queueDropped: number; userDropped: number; idSequence: number; copyRange: number } | null;
  udp: Record<string, number>;
  udpBytes: Record<string, number>;
}

function assertRoot(): void {
  assert.equal(process.getuid?.(), 0, 'the nfqueue tests need root (network namespaces, NFQUEUE binding)');
}

describe('nfqueue addon: packets through a real queue (network namespaces)', { timeout: 240_000 }, () => {
  let pair: NsPair;
  let q: QueueProc;
  let gwIfindex = 0;

  before(async () => {
    assertRoot();
    pair = await NsPair.create();
    const ipt = (args: string): Promise<ExecResult> => pair.exec(pair.gw, 'iptables', args.split(' '));
    // First packets only would be `-m conntrack --ctstate NEW`; here every packet to these ports is queued.
    await ipt(`-t mangle -A PREROUTING -i ${GW_IF} -p udp --dport 5000:5099 -j NFQUEUE --queue-num 10`);
    await ipt(`-t mangle -A PREROUTING -i ${GW_IF} -p tcp --syn --dport 6000:6099 -j NFQUEUE --queue-num 10`);
    await ipt(`-t mangle -A PREROUTING -i ${GW_IF} -p udp --dport 5101 -j NFQUEUE --queue-num 11`);
    await ipt(`-t mangle -A PREROUTING -i ${GW_IF} -p udp --dport 5102 -j NFQUEUE --queue-num 12 --queue-bypass`);
    await ipt(`-t mangle -A PREROUTING -i ${GW_IF} -p udp --dport 5200:5299 -j NFQUEUE --queue-num 20`);
    await ipt(`-t mangle -A PREROUTING -i ${GW_IF} -p udp --dport 5300 -j NFQUEUE --queue-num 21`);
    // Runs after mangle (-150) on the same hook: sees the mark the verdict set.
    await pair.exec(pair.gw, 'nft', ['-f', '-'], {
      input: `table ip rgwtq {
        counter mark_a { }
        counter mark_b { }
        chain pre {
          type filter hook prerouting priority -100; policy accept;
          meta mark ${MARK_A} counter name "mark_a"
          meta mark ${MARK_B} counter name "mark_b"
        }
      }\n`,
    });
    const link = JSON.parse((await pair.exec(pair.gw, 'ip', ['-j', 'link', 'show', GW_IF])).stdout) as { ifindex: number }[];
    gwIfindex = link[0]!.ifindex;

    q = pair.spawnQueue({
      queueNum: 10,
      copyBytes: 128,
      rules: [
        { protocol: 17, dstPort: 5001, verdict: 'accept', mark: MARK_A },
        { protocol: 17, dstPort: 5002, verdict: 'drop' },
        { protocol: 17, dstPort: 5004, verdict: 'accept', mark: MARK_B },
        { protocol: 6, dstPort: 6002, verdict: 'drop' },
      ],
      throwOnPort: 5005,
      defaultVerdict: 'accept',
      host: GW_IP,
      udpPorts: [5001, 5002, 5003, 5004, 5005, 5101, 5102],
      tcpPorts: [6001, 6002],
    });
    await q.wait('ready');
  });

  after(async () => {
    await q?.exit().catch(() => undefined);
    await pair?.destroy();
  });

  const markCounter = async (name: string): Promise<number> => {
    const r = await pair.exec(pair.gw, 'nft', ['-j', 'list', 'counter', 'ip', 'rgwtq', name]);
    const doc = JSON.parse(r.stdout) as { nftables: { counter?: { packets: number } }[] };
    return doc.nftables.find((x) => x.counter)!.counter!.packets;
  };

  it('delivers a queued UDP datagram with parsed headers and a payload cut to copyBytes', { timeout: TEST_TIMEOUT }, async () => {
    const from = q.proc.lineCount;
    await pair.send({ kind: 'udp', host: GW_IP, port: 5001, size: 1000, srcPort: 40001 });
    const pkt = await q.wait('pkt', (e) => (e.parsed as { dstPort?: number } | undefined)?.dstPort === 5001, 5_000, from);
    assert.equal(pkt.payloadLength, 128, 'payload bounded by copyBytes');
    assert.equal(pkt.length, 1028, 'full length = 20 IP + 8 UDP + 1000');
    assert.equal(pkt.hook, NF_HOOK.PREROUTING);
    assert.equal(pkt.indev, gwIfindex);
    assert.equal(pkt.hwProtocol, 0x0800);
    assert.equal(pkt.mark, 0);
    assert.deepEqual(pkt.parsed, {
      src: CLIENT_IP,
      dst: GW_IP,
      protocol: 17,
      srcPort: 40001,
      dstPort: 5001,
      headerLength: 20,
      totalLength: 1028,
      ttl: 64,
    });
    // accepted: the receiver gets the whole datagram although userspace saw only 128 bytes of it
    const udp = await q.wait('udp', (e) => e.port === 5001, 5_000, from);
    assert.equal(udp.bytes, 1000);
    assert.equal(udp.from, `${CLIENT_IP}:40001`);
  });

  it('accept lets UDP and a TCP SYN through; drop does not', { timeout: TEST_TIMEOUT }, async () => {
    const from = q.proc.lineCount;
    await pair.send({ kind: 'udp', host: GW_IP, port: 5003, size: 10, count: 3 });
    await pair.send({ kind: 'udp', host: GW_IP, port: 5002, size: 10, count: 3 });
    const ok = await pair.send({ kind: 'tcp', host: GW_IP, port: 6001, timeoutMs: 3_000 });
    assert.equal(ok.ok, true, `TCP to an accepted port connects: ${JSON.stringify(ok)}`);
    await q.wait('tcp', (e) => e.port === 6001, 5_000, from);
    const refused = await pair.send({ kind: 'tcp', host: GW_IP, port: 6002, timeoutMs: 1_500 });
    assert.equal(refused.ok, false);
    assert.equal(refused.error, 'timeout', 'a dropped SYN gets no answer at all');

    const syn = await q.wait('pkt', (e) => (e.parsed as { dstPort?: number }).dstPort === 6002, 5_000, from);
    assert.equal((syn.parsed as { tcpFlags: number }).tcpFlags & 0x12, 0x02, 'SYN without ACK');
    const s = await q.statsWhen((x) => x.udp['5003'] === 3);
    assert.equal(s.udp['5003'], 3, 'all accepted datagrams arrive');
    assert.equal(s.udp['5002'] ?? 0, 0, 'no dropped datagram arrives');
    assert.equal(q.events('pkt').filter((e) => (e.parsed as { dstPort: number }).dstPort === 5002).length >= 3, true);
    assert.equal(s.kernel?.queueTotal, 0, 'every queued packet got its verdict');
  });

  it('sets the verdict mark on the packet (nft counters on meta mark)', { timeout: TEST_TIMEOUT }, async () => {
    const a0 = await markCounter('mark_a');
    const b0 = await markCounter('mark_b');
    await pair.send({ kind: 'udp', host: GW_IP, port: 5001, size: 10, count: 5 });
    await pair.send({ kind: 'udp', host: GW_IP, port: 5004, size: 10, count: 2 });
    await pair.send({ kind: 'udp', host: GW_IP, port: 5003, size: 10, count: 4 }); // accepted without a mark
    await q.statsWhen((x) => (x.udp['5004'] ?? 0) >= 2);
    assert.equal((await markCounter('mark_a')) - a0, 5);
    assert.equal((await markCounter('mark_b')) - b0, 2);
  });

  it('without a listener: dropped without --queue-bypass, passed with it', { timeout: TEST_TIMEOUT }, async () => {
    await pair.send({ kind: 'udp', host: GW_IP, port: 5101, size: 10, count: 3 });
    await pair.send({ kind: 'udp', host: GW_IP, port: 5102, size: 10, count: 3 });
    const s = await q.statsWhen((x) => x.udp['5102'] === 3, 3_000);
    assert.equal(s.udp['5102'], 3, 'bypass: delivered without a consumer');
    await sleep(300);
    assert.equal((await q.stats()).udp['5101'] ?? 0, 0, 'no bypass: dropped without a consumer');
  });

  it('reports a verdict the kernel rejects through onError (async, ENOENT)', { timeout: TEST_TIMEOUT }, async () => {
    const from = q.proc.lineCount;
    const before = (await q.stats()).stats.errors;
    q.proc.child.stdin!.write('bogus-verdict\n');
    const e = await q.wait('async-error', () => true, 5_000, from);
    assert.equal(e.code, 'ENOENT');
    assert.match(String(e.message), /rejected the verdict for packet 2147483632/);
    assert.equal((await q.stats()).stats.errors, before + 1);
  });

  it('an exception in onPacket reaches uncaughtException and does not stop the queue', { timeout: TEST_TIMEOUT }, async () => {
    const from = q.proc.lineCount;
    await pair.send({ kind: 'udp', host: GW_IP, port: 5005, size: 10, count: 3, rate: 20 });
    const e = await q.wait('uncaught', () => true, 5_000, from);
    assert.match(String(e.message), /^handler failed on packet \d+$/);
    const s = await q.statsWhen((x) => x.udp['5005'] === 3);
    assert.equal(s.udp['5005'], 3, 'verdicts given before the throw took effect');
    await pair.send({ kind: 'udp', host: GW_IP, port: 5003, size: 10, count: 1 });
    await q.wait('pkt', (x) => (x.parsed as { dstPort: number }).dstPort === 5003, 5_000, from);
    assert.equal(s.kernel?.queueTotal, 0);
  });

  it('refuses a second process on a bound queue with a clear error', { timeout: TEST_TIMEOUT }, async () => {
    const other = pair.spawnQueue({ queueNum: 10, rules: [], defaultVerdict: 'accept', host: GW_IP, udpPorts: [], tcpPorts: [] });
    const e = await other.wait('open-error');
    assert.equal(e.code, 'EPERM');
    assert.equal(e.message, 'nfqueue: queue 10 is already bound by another process (EPERM)');
    const exit = await other.proc.exited;
    assert.equal(exit.code, 3);
  });

  it('close() unbinds at once; re-opening in the same process works', { timeout: TEST_TIMEOUT }, async () => {
    const closed = await q.command('close', 'closed');
    assert.equal(closed.kernel, null, 'queue gone from /proc/net/netfilter/nfnetlink_queue right after close()');
    // closed, no bypass: queued packets are dropped
    const before = (await q.stats()).udp['5003'] ?? 0;
    await pair.send({ kind: 'udp', host: GW_IP, port: 5003, size: 10, count: 3 });
    await sleep(300);
    assert.equal((await q.stats()).udp['5003'] ?? 0, before, 'nothing passes while closed');

    await q.command('reopen', 'ready');
    const from = q.proc.lineCount;
    await pair.send({ kind: 'udp', host: GW_IP, port: 5003, size: 10, count: 3 });
    const s = await q.statsWhen((x) => (x.udp['5003'] ?? 0) === before + 3);
    assert.equal(s.udp['5003'], before + 3, 'delivered again after re-open');
    assert.equal(s.stats.received, 3, 'the new queue counts from zero');
    await q.wait('pkt', (e) => (e.parsed as { dstPort: number }).dstPort === 5003, 1_000, from);
  });

  it('carries 20k UDP datagrams at a modest rate without loss', { timeout: TEST_TIMEOUT }, async (t) => {
    const flood = pair.spawnQueue({ queueNum: 20, quiet: true, rules: [], defaultVerdict: 'accept', host: GW_IP, udpPorts: [5200], tcpPorts: [] });
    try {
      await flood.wait('ready');
      const sent = await pair.send({ kind: 'udp', host: GW_IP, port: 5200, size: 32, count: 20_000, rate: 10_000 });
      assert.equal(sent.count, 20_000);
      assert.equal(sent.failed, 0);
      const s = await flood.statsWhen((x) => x.udp['5200'] === 20_000, 10_000);
      t.diagnostic(`paced: ${Math.round(Number(sent.rate))} datagrams/s offered; queue ${JSON.stringify(s.stats)}; kernel ${JSON.stringify(s.kernel)}`);
      assert.equal(s.pkts, 20_000, 'every datagram went through the queue');
      assert.equal(s.stats.verdicts, 20_000);
      assert.equal(s.udp['5200'], 20_000, 'and reached the receiver');
      assert.equal(s.stats.errors, 0);
      assert.equal(s.stats.enobufs, 0);
      assert.equal(s.kernel?.queueDropped, 0);
      assert.equal(s.kernel?.userDropped, 0);
      assert.equal(s.kernel?.queueTotal, 0);

      // Flat out: the consumer keeps up or the kernel drops, but no packet is left without a verdict. The
      // packets/s figure is information only (NOTES §3 has the measured consumer rates).
      await flood.command('reset', 'reset');
      const burst = await pair.send({ kind: 'udp', host: GW_IP, port: 5200, size: 32, count: 100_000, rate: 0 }, 60_000);
      // settled: nothing waiting in the kernel and the count no longer moving
      let g = await flood.stats();
      for (let i = 0; i < 50; i++) {
        await sleep(100);
        const next = await flood.stats();
        const settled = next.pkts === g.pkts && next.kernel?.queueTotal === 0;
        g = next;
        if (settled) break;
      }
      const secs = (g.lastPktAt - g.firstPktAt) / 1000;
      const rate = secs > 0 ? g.pkts / secs : 0;
      t.diagnostic(
        `flood: sender ${Math.round(Number(burst.rate))}/s, consumer ${Math.round(rate)} packets/s ` +
          `(${g.pkts} of ${Number(burst.count)} queued in ${secs.toFixed(3)} s; kernel queueDropped ${g.kernel?.queueDropped}, ` +
          `userDropped ${g.kernel?.userDropped}; receiver got ${g.udp['5200'] ?? 0})`,
      );
      assert.ok(g.pkts > 0);
      assert.equal(g.stats.errors, 0);
      assert.equal(g.kernel?.queueTotal, 0, 'nothing left waiting for a verdict');
      assert.equal(g.stats.received, g.stats.verdicts, 'every packet received got its verdict');
    } finally {
      await flood.exit();
    }
  });

  it('counts ENOBUFS when the socket overflows, and keeps going', { timeout: TEST_TIMEOUT }, async () => {
    // A consumer stuck for 400 ms behind a 64 KiB socket buffer with a long kernel queue: the socket
    // overflows first (kernel userDropped), the next receive reports ENOBUFS once.
    const slow = pair.spawnQueue({
      queueNum: 21,
      quiet: true,
      maxQueueLen: 20_000,
      socketBuffer: 64 * 1024,
      stallFirstMs: 400,
      rules: [],
      defaultVerdict: 'accept',
      host: GW_IP,
      udpPorts: [5300],
      tcpPorts: [],
    });
    try {
      await slow.wait('ready');
      await pair.send({ kind: 'udp', host: GW_IP, port: 5300, size: 32, count: 5_000, rate: 50_000 });
      const s1 = await slow.statsWhen((x) => x.stats.enobufs > 0 && x.kernel?.queueTotal === 0, 5_000);
      assert.ok(s1.stats.enobufs >= 1, `enobufs counted: ${JSON.stringify(s1.stats)}`);
      assert.ok((s1.kernel?.userDropped ?? 0) > 0, 'the kernel dropped what did not fit');
      assert.equal(s1.stats.errors, 0, 'ENOBUFS is not an error');
      await pair.send({ kind: 'udp', host: GW_IP, port: 5300, size: 32, count: 50, rate: 1_000 });
      const s2 = await slow.statsWhen((x) => x.udp['5300'] === (s1.udp['5300'] ?? 0) + 50, 5_000);
      assert.equal(s2.udp['5300'], (s1.udp['5300'] ?? 0) + 50, 'still consuming after the overflow');
      assert.equal(s2.stats.received, s2.stats.verdicts);
    } finally {
      await slow.exit();
    }
  });

  it('re-opening under load leaves no packet without a verdict', { timeout: TEST_TIMEOUT }, async (t) => {
    const churn = pair.spawnQueue({ queueNum: 20, quiet: true, rules: [], defaultVerdict: 'accept', host: GW_IP, udpPorts: [5201], tcpPorts: [] });
    try {
      await churn.wait('ready');
      const traffic = pair.send({ kind: 'udp', host: GW_IP, port: 5201, size: 32, count: 30_000, rate: 20_000 });
      let stashed = 0;
      for (let i = 0; i < 15; i++) {
        await sleep(50);
        await churn.command('close', 'closed');
        await churn.command('reopen', 'ready');
        stashed += (await churn.stats()).stats.stashed;
      }
      await traffic;
      const s = await churn.statsWhen((x) => x.kernel?.queueTotal === 0 && x.stats.received === x.stats.verdicts, 5_000);
      t.diagnostic(`15 close/re-open cycles under 20k/s: ${stashed} packets arrived during a bind and were delivered after it`);
      assert.equal(s.kernel?.queueTotal, 0, 'no packet stuck in the kernel queue');
      assert.equal(s.stats.received, s.stats.verdicts);
      assert.equal(s.stats.errors, 0);
    } finally {
      await churn.exit();
    }
  });
});

describe('nfqueue addon: lifecycle in this process', { timeout: 120_000 }, () => {
  // A queue number no rule points at: binding it affects no traffic.
  const num = 40_000 + randomInt(20_000);
  const noop = (): void => undefined;

  before(() => assertRoot());

  it('validates options', () => {
    assert.throws(() => NfQueue.open({ queueNum: 70_000 }, noop), RangeError);
    assert.throws(() => NfQueue.open({ queueNum: num, copyBytes: 0 }, noop), /copyBytes must be an integer 1..65535/);
    assert.throws(() => NfQueue.open({ queueNum: num, batch: 5000 }, noop), /batch must be an integer 1..1024/);
    assert.throws(() => NfQueue.open({ queueNum: num, maxQueueLen: 0 }, noop), RangeError);
    assert.throws(() => NfQueue.open({ queueNum: num }, undefined as unknown as (p: QueuedPacket) => void), TypeError);
  });

  it('binds, reports kernel state, refuses a double open, closes idempotently, re-opens at once', async () => {
    const q = NfQueue.open({ queueNum: num, copyBytes: 96, maxQueueLen: 100 }, noop);
    const k = q.kernelStats();
    assert.ok(k, 'visible in /proc/net/netfilter/nfnetlink_queue');
    assert.equal(k.copyRange, 96);
    assert.equal(k.copyMode, 2, 'NFQNL_COPY_PACKET');
    assert.throws(
      () => NfQueue.open({ queueNum: num }, noop),
      (err: NodeJS.ErrnoException) =>
        err.code === 'EBUSY' && err.message === `nfqueue: queue ${num} is already open in this process (close it first)`,
    );
    assert.throws(() => q.verdict(1, 'maybe' as 'accept'), TypeError);
    assert.throws(() => q.verdict(-1, 'accept'), RangeError);
    assert.throws(() => q.verdict(1, 'accept', 2 ** 32), RangeError);

    const p1 = q.close();
    assert.equal(q.closed, true);
    assert.equal(readKernelQueueStats(num), undefined, 'unbound synchronously');
    assert.equal(q.close(), p1, 'close() is idempotent');
    assert.throws(() => q.verdict(1, 'accept'), (err: NodeJS.ErrnoException) => err.code === 'EBADF' && /is closed/.test(err.message));
    // re-open before the first close() has even settled
    const q2 = NfQueue.open({ queueNum: num }, noop);
    assert.equal(q2.kernelStats()?.copyRange, 128);
    await Promise.all([p1, q2.close()]);
    assert.deepEqual(
      { received: q.stats.received, verdicts: q.stats.verdicts, errors: q.stats.errors },
      { received: 0, verdicts: 0, errors: 0 },
    );
  });

  it('open/close in a loop leaks neither descriptors nor memory', { timeout: 120_000 }, async (t) => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const fds = (): number => readdirSync('/proc/self/fd').length;
    const cycle = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) {
        const q = NfQueue.open({ queueNum: num, batch: 64 }, noop);
        await q.close();
      }
    };
    await cycle(200); // warm-up
    gc();
    await sleep(50);
    gc();
    const fd0 = fds();
    const rss0 = process.memoryUsage().rss;
    const N = 3000;
    await cycle(N);
    gc();
    await sleep(50);
    gc();
    const grown = process.memoryUsage().rss - rss0;
    t.diagnostic(`${N} open/close cycles: fds ${fd0} -> ${fds()}, rss +${(grown / 1048576).toFixed(1)} MiB`);
    assert.equal(fds(), fd0);
    // each cycle allocates ~75 KiB of receive buffers: a leak would show as hundreds of MiB
    assert.ok(grown < 24 * 1048576, `rss grew by ${grown} bytes`);
    assert.equal(readKernelQueueStats(num), undefined);
  });
});
