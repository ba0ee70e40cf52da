// NFQUEUE consumer: TypeScript face of the project's own Node-API addon (kernel/nfqueue).
//
//   const q = NfQueue.open({ queueNum: 1, failOpen: false }, (p) => {
//     const h = parseIpv4(p.payload);
//     q.verdict(p.id, h && wanted(h) ? 'accept' : 'drop', mark);
//   });
//   ...
//   await q.close();
//
// Packets come from an iptables rule (this kernel has no nft `queue` statement):
//   iptables -t mangle -A PREROUTING -d POOL -m conntrack --ctstate NEW -j NFQUEUE --queue-num 1 [--queue-bypass]
// Each packet must get exactly one verdict; one left without is held by the kernel (it counts against
// maxQueueLen) until close(), which drops it. onPacket runs synchronously on the event loop, once per
// packet, in batches of up to `batch` packets per wake-up; verdicts given during a batch are sent together
// after it, verdicts given later (e.g. after an await) are sent at once.
import { readFileSync } from 'node:fs';
import { loadNativeAddon } from './addon.js';

export type NfVerdict = 'accept' | 'drop';

export interface QueuedPacket {
  /** kernel packet id, the handle for verdict() */
  id: number;
  /** the first copyBytes (at most) of the IP packet */
  payload: Buffer;
  /** full length of the packet */
  length: number;
  /** nfmark when queued */
  mark: number;
  /** netfilter hook: see NF_HOOK */
  hook: number;
  /** input interface index, 0 when none (locally generated) */
  indev: number;
  /** output interface index, 0 when not yet routed */
  outdev: number;
  /** link-layer protocol of the packet (0x0800 for IPv4, 0x86dd for IPv6) */
  hwProtocol: number;
}

export interface NfQueueOptions {
  /** queue number of the iptables NFQUEUE rule, 0..65535 */
  queueNum: number;
  /** bytes of each packet copied to userspace, 1..65535 (default 128: IPv4 with options + TCP/UDP/ICMP headers) */
  copyBytes?: number;
  /** kernel queue length: packets waiting for a verdict (default 4096) */
  maxQueueLen?: number;
  /** NFQA_CFG_F_FAIL_OPEN: accept packets (instead of dropping them) when the queue or socket buffer is full */
  failOpen?: boolean;
  /** datagrams read per event-loop wake-up, 1..1024 (default 64) */
  batch?: number;
  /**
   * Netlink socket receive buffer in bytes (set with SO_RCVBUFFORCE). Default: room for a full kernel
   * queue, maxQueueLen * (copyBytes + 1 KiB), between 256 KiB and 64 MiB, so that a slow consumer meets
   * the queue limit (queueDropped, or fail-open) before the socket overflows (ENOBUFS, userDropped).
   */
  socketBuffer?: number;
  /**
   * Asynchronous errors: a verdict the kernel rejected (e.g. an unknown or already-judged packet id), a
   * failed receive or verdict flush. Always counted in stats.errors; reported here when given.
   */
  onError?: (err: Error) => void;
}

export interface NfQueueStats {
  /** packets delivered to onPacket */
  received: number;
  /** verdicts sent to the kernel */
  verdicts: number;
  /** malformed or truncated messages, failed sends or receives, verdicts the kernel rejected */
  errors: number;
  /** times the kernel reported ENOBUFS: our socket buffer was full and it dropped (or, with failOpen,
   * accepted) packets without asking us */
  enobufs: number;
  /** datagrams larger than a receive slot (never expected) */
  truncated: number;
  /** packets that arrived while open() waited for the kernel's bind acknowledgement (delivered right after) */
  stashed: number;
}

/** The kernel's view of a queue (/proc/net/netfilter/nfnetlink_queue, in the caller's network namespace). */
export interface NfQueueKernelStats {
  queueNum: number;
  portId: number;
  /** packets currently waiting for a verdict */
  queueTotal: number;
  copyMode: number;
  copyRange: number;
  /** dropped because the queue was full (maxQueueLen) */
  queueDropped: number;
  /** dropped because the netlink message could not be delivered (socket buffer full) */
  userDropped: number;
  /** last packet id handed out */
  idSequence: number;
}

/** Netfilter hook numbers as reported in QueuedPacket.hook. */
export const NF_HOOK = { PREROUTING: 0, INPUT: 1, FORWARD: 2, OUTPUT: 3, POSTROUTING: 4 } as const;


type NativeHandle = { readonly __nfqueueHandle: unique symbol };

interface NativeAddon {
  open(
    queueNum: number,
    copyBytes: number,
    maxQueueLen: number,
    failOpen: boolean,
    batch: number,
    onBatch: (count: number, data: ArrayBuffer) => void,
    onError?: (err: Error) => void,
    rcvbuf?: number,
  ): NativeHandle;
  verdict(h: NativeHandle, id: number, verdict: 0 | 1, mark?: number): void;
  close(h: NativeHandle, onClosed: () => void): void;
  kick(h: NativeHandle): void;
  stats(h: NativeHandle): NfQueueStats;
  ref(h: NativeHandle, on: boolean): void;
}

/** Fields per packet in the addon's batch record (see kernel/nfqueue/src/binding.c). */
const META_FIELDS = 8;

const loadAddon = (): NativeAddon => loadNativeAddon<NativeAddon>();

function checkInt(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(`nfqueue: ${name} must be an integer ${min}..${max}, got ${String(v)}`);
  }
  return v;
}

/** Reads the kernel's counters of one queue in this process's network namespace; undefined when unbound. */
export function readKernelQueueStats(queueNum: number): NfQueueKernelStats | undefined {
  let text: string;
  try {
    text = readFileSync('/proc/net/netfilter/nfnetlink_queue', 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/).map(Number);
    if (f.length < 8 || f[0] !== queueNum) continue;
    return {
      queueNum: f[0]!,
      portId: f[1]!,
      queueTotal: f[2]!,
      copyMode: f[3]!,
      copyRange: f[4]!,
      queueDropped: f[5]!,
      userDropped: f[6]!,
      idSequence: f[7]!,
    };
  }
  return undefined;
}

export class NfQueue {
  readonly queueNum: number;
  readonly copyBytes: number;
  readonly maxQueueLen: number;
  readonly failOpen: boolean;
  readonly batch: number;
  /** requested socket buffer, 0 = automatic */
  readonly socketBuffer: number;
  #addon: NativeAddon;
  #handle: NativeHandle;
  #closed = false;
  #closing: Promise<void> | undefined;

  private constructor(addonImpl: NativeAddon, opts: Required<Omit<NfQueueOptions, 'onError'>>, handle: NativeHandle) {
    this.#addon = addonImpl;
    this.queueNum = opts.queueNum;
    this.copyBytes = opts.copyBytes;
    this.maxQueueLen = opts.maxQueueLen;
    this.failOpen = opts.failOpen;
    this.batch = opts.batch;
    this.socketBuffer = opts.socketBuffer;
    this.#handle = handle;
  }

  /**
   * Binds the queue (throws with a clear message and an errno `code` when it cannot, e.g. "queue 1 is
   * already bound by another process") and starts delivering packets to onPacket on the event loop.
   * An exception thrown by onPacket does not stop the batch it belongs to; the first one is rethrown
   * after the batch (it reaches 'uncaughtException').
   */
  static open(opts: NfQueueOptions, onPacket: (p: QueuedPacket) => void): NfQueue {
    if (typeof onPacket !== 'function') throw new TypeError('nfqueue: onPacket must be a function');
    if (opts.onError !== undefined && typeof opts.onError !== 'function') {
      throw new TypeError('nfqueue: onError must be a function');
    }
    if (opts.failOpen !== undefined && typeof opts.failOpen !== 'boolean') {
      throw new TypeError('nfqueue: failOpen must be a boolean');
    }
    const o = {
      queueNum: checkInt('queueNum', opts.queueNum, 0, 65535),
      copyBytes: checkInt('copyBytes', opts.copyBytes ?? 128, 1, 65535),
      maxQueueLen: checkInt('maxQueueLen', opts.maxQueueLen ?? 4096, 1, 0xffffffff),
      failOpen: opts.failOpen ?? false,
      batch: checkInt('batch', opts.batch ?? 64, 1, 1024),
      socketBuffer: checkInt('socketBuffer', opts.socketBuffer ?? 0, 0, 0x3fffffff),
    };
    const impl = loadAddon();
    let queue: NfQueue | undefined;
    const onBatch = (count: number, data: ArrayBuffer): void => {
      const meta = new Uint32Array(data, 0, count * META_FIELDS);
      let offset = count * META_FIELDS * 4;
      let failed = false;
      let firstError: unknown;
      for (let i = 0; i < count; i++) {
        const m = i * META_FIELDS;
        const payloadLength = meta[m + 7]!;
        const packet: QueuedPacket = {
          id: meta[m]!,
          payload: Buffer.from(data, offset, payloadLength),
          length: meta[m + 1]!,
          mark: meta[m + 2]!,
          hook: meta[m + 3]!,
          indev: meta[m + 4]!,
          outdev: meta[m + 5]!,
          hwProtocol: meta[m + 6]!,
        };
        offset += payloadLength;
        // closed from an earlier packet's handler: the kernel has dropped the rest at unbind
        if (queue !== undefined && queue.#closed) break;
        try {
          onPacket(packet);
        } catch (err) {
          if (!failed) {
            failed = true;
            firstError = err;
          }
        }
      }
      if (failed) throw firstError;
    };
    const handle = impl.open(
      o.queueNum,
      o.copyBytes,
      o.maxQueueLen,
      o.failOpen,
      o.batch,
      onBatch,
      opts.onError,
      o.socketBuffer,
    );
    const opened = new NfQueue(impl, o, handle);
    queue = opened;
    // Packets that raced the bind acknowledgement were read while open() waited for it: deliver them.
    setImmediate(() => {
      if (!opened.#closed) impl.kick(handle);
    });
    return opened;
  }

  /** true once close() has been called */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Gives the verdict for packet `id`; `mark` (u32) sets the packet's nfmark (NFQA_MARK), e.g. for a
   * later `dnat ip to meta mark map @hosts`. Throws when the queue is closed or the send fails; a verdict
   * the kernel rejects (unknown id) is reported through onError / stats.errors.
   */
  verdict(id: number, verdict: NfVerdict, mark?: number): void {
    const v = verdict === 'accept' ? 1 : verdict === 'drop' ? 0 : undefined;
    if (v === undefined) throw new TypeError(`nfqueue: verdict must be 'accept' or 'drop', got ${String(verdict)}`);
    if (mark !== undefined) checkInt('mark', mark, 0, 0xffffffff);
    checkInt('packet id', id, 0, 0xffffffff);
    this.#addon.verdict(this.#handle, id, v, mark);
  }

  /**
   * Unbinds the queue and closes the socket (synchronously: the queue number can be bound again as soon as
   * this returns), stops polling; the promise settles when the poll handle is released. Idempotent.
   * Packets still waiting for a verdict are dropped by the kernel; packets that arrive afterwards meet
   * the rule's default (dropped, or accepted with --queue-bypass).
   */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closed = true;
    this.#closing = new Promise<void>((resolve) => this.#addon.close(this.#handle, resolve));
    return this.#closing;
  }

  get stats(): NfQueueStats {
    return this.#addon.stats(this.#handle);
  }

  /** The kernel's counters for this queue number (undefined once unbound). */
  kernelStats(): NfQueueKernelStats | undefined {
    return readKernelQueueStats(this.queueNum);
  }

  /** Let an open queue keep the process alive (the default). */
  ref(): this {
    this.#addon.ref(this.#handle, true);
    return this;
  }

  /** Do not let this queue alone keep the process alive. */
  unref(): this {
    this.#addon.ref(this.#handle, false);
    return this;
  }
}
