import { spawn, type ChildProcess } from 'node:child_process';
import readline from 'node:readline';
import type { Logger } from '../log.js';
import { parseIpv4 as parseAddress, isIpv4 } from '../util/ipv4.js';

/** A new flow as `conntrack -E -e NEW` reports it. */
export interface NewFlow {
  protocol: number;
  src: number;
  dst: number;
  /** Destination port of the original direction; 0 for protocols without ports. */
  dstPort: number;
  /** Source of the reply direction: differs from `dst` when the flow was DNATed. */
  replySrc: number;
}

/**
 * Parses one event line, e.g.
 *   [NEW] tcp      6 120 SYN_SENT src=100.64.0.100 dst=100.64.1.131 sport=4711 dport=80 [UNREPLIED] src=192.168.0.100 dst=100.64.0.100 sport=80 dport=4711
 *   [NEW] icmp     1 30 src=100.64.0.100 dst=100.64.1.133 type=8 code=0 id=7 [UNREPLIED] src=192.168.0.100 dst=100.64.0.100 type=0 code=0 id=7
 * Anything else (other event types, IPv6, banners) gives undefined.
 */
export function parseNewFlowEvent(line: string): NewFlow | undefined {
  const tokens = line.trim().split(/\s+/);
  if (tokens[0] !== '[NEW]') return undefined;
  const protocol = Number(tokens[2]);
  if (!Number.isInteger(protocol)) return undefined;
  const fields: { [k: string]: string[] } = {};
  for (const t of tokens) {
    const eq = t.indexOf('=');
    if (eq > 0) (fields[t.slice(0, eq)] ??= []).push(t.slice(eq + 1));
  }
  const [src, replySrc] = fields.src ?? [];
  const [dst] = fields.dst ?? [];
  if (!src || !dst || !replySrc || !isIpv4(src) || !isIpv4(dst) || !isIpv4(replySrc)) return undefined;
  const dport = fields.dport?.[0];
  return { protocol, src: parseAddress(src), dst: parseAddress(dst), dstPort: dport ? Number(dport) : 0, replySrc: parseAddress(replySrc) };
}

/** A TCP connection whose handshake consumed its reservation, as a conntrack UPDATE event carrying the tag. */
export interface ConsumedHandshake {
  src: number;
  srcPort: number;
  /** The pool address (original direction). */
  dst: number;
  dstPort: number;
  /** The connection's ct mark. */
  mark: number;
  /** conntrack's TCP state, e.g. ESTABLISHED. */
  state: string;
}

/**
 * Parses one UPDATE event line of a TCP connection with its ct mark, e.g.
 *   [UPDATE] tcp      6 432000 ESTABLISHED src=100.64.0.100 dst=100.64.1.131 sport=4711 dport=80 src=192.168.0.100 dst=100.64.0.100 sport=80 dport=4711 [ASSURED] mark=251658240
 * Anything else gives undefined.
 */
export function parseHandshakeEvent(line: string): ConsumedHandshake | undefined {
  const tokens = line.trim().split(/\s+/);
  if (tokens[0] !== '[UPDATE]' || tokens[1] !== 'tcp') return undefined;
  const fields: { [k: string]: string[] } = {};
  for (const t of tokens) {
    const eq = t.indexOf('=');
    if (eq > 0) (fields[t.slice(0, eq)] ??= []).push(t.slice(eq + 1));
  }
  const src = fields.src?.[0];
  const dst = fields.dst?.[0];
  const sport = Number(fields.sport?.[0]);
  const dport = Number(fields.dport?.[0]);
  const mark = Number(fields.mark?.[0]);
  if (!src || !dst || !isIpv4(src) || !isIpv4(dst) || !Number.isInteger(sport) || !Number.isInteger(dport) || !Number.isInteger(mark)) return undefined;
  const state = tokens[4] ?? '';
  if (!/^[A-Z_0-9]+$/.test(state)) return undefined;
  return { src: parseAddress(src), srcPort: sport, dst: parseAddress(dst), dstPort: dport, mark: mark >>> 0, state };
}

/** Netlink receive buffer of the event readers (the kernel caps it at net.core.rmem_max unless we are root). */
const EVENT_BUFFER_BYTES = 8 * 1024 * 1024;

/**
 * Follows conntrack events of the gateway's namespace (`conntrack -E` with the given filter arguments), one
 * line at a time; restarts the stream if it ends.
 */
export class ConntrackStream {
  private child?: ChildProcess;
  private stopped = false;

  constructor(
    private readonly args: readonly string[],
    private readonly onLine: (line: string) => void,
    private readonly log: Logger,
  ) {}

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      // stdbuf: one event a line, as it happens, rather than a 4 KiB block at a time through the pipe.
      // --buffer-size: bursts of thousands of connections a second overran the default socket buffer (ENOBUFS),
      // and a lost event is a consumption the pool never sees.
      const child = spawn('stdbuf', ['-oL', 'conntrack', '-E', '--buffer-size', String(EVENT_BUFFER_BYTES), ...this.args], { stdio: ['ignore', 'pipe', 'pipe'] });
      this.child = child;
      let started = false;
      child.once('spawn', () => {
        started = true;
        resolve();
      });
      child.once('error', (err) => {
        if (!started) reject(new Error(`cannot run conntrack -E (is the conntrack package installed?): ${err.message}`));
      });
      readline.createInterface({ input: child.stdout! }).on('line', this.onLine);
      child.stderr!.on('data', (d) => this.log.warn({ stderr: String(d).trim() }, 'conntrack -E'));
      child.once('exit', (code, signal) => {
        if (this.stopped) return;
        this.log.error({ code, signal, args: this.args }, 'conntrack event stream ended; restarting it');
        setTimeout(() => !this.stopped && this.start().catch((err) => this.log.error({ err }, 'conntrack restart failed')), 500).unref();
      });
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  }
}

/**
 * Follows new conntrack entries of the gateway's namespace. In nftset mode the kernel consumes reservations
 * by itself; these events are how the pool learns it, so an address and a host's quota come back at the
 * first packet, as in nfqueue mode, rather than only when the reservation expires.
 */
export class ConntrackEvents extends ConntrackStream {
  constructor(onFlow: (f: NewFlow) => void, log: Logger) {
    super(['-e', 'NEW'], (line) => {
      const flow = parseNewFlowEvent(line);
      if (flow) onFlow(flow);
    }, log);
  }
}
