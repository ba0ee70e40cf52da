/**
 * Set-element transactions built directly (kernel/nfqueue/src/nft_elems.c: libnftnl + libmnl): the nftset
 * reservation hot path. libnftables re-reads the whole ruleset before a command that follows a committed
 * change, 0.1-0.6 ms per reservation that the DNS answer waited for; a batch built directly costs ~10 us.
 *
 * The wire format of keys is nft's concatenation layout: every field padded to 4 bytes, network byte order
 * (ipv4_addr 4; inet_proto 1 + 3 zero; inet_service 2 big-endian + 2 zero).
 */
import { CommandRunner, type ElemsBinding } from './command.js';
import { KernelChannel, type KernelChannelOptions } from './kernel-channel.js';
import type { Runner } from './runner.js';
import type { KeyShape } from './ruleset.js';

export interface ElementOp {
  kind: 'add' | 'delete';
  set: string;
  key: Buffer;
  /** Interval sets: the range's last key (same layout as `key`); every element of such a set has one. */
  keyEnd?: Buffer;
  /** A map's value (4 bytes, an IPv4 address). */
  data?: Buffer;
  /** ms; none: the set's default. */
  timeoutMs?: number;
}

/** The key of a pool slot in the set or map of its shape. */
export function encodeKey(shape: KeyShape, address: number, protocol: number, port: number): Buffer {
  const fields = { exact: 3, anyport: 2, anyproto: 2, any: 1 }[shape];
  const b = Buffer.alloc(fields * 4);
  b.writeUInt32BE(address >>> 0, 0);
  if (shape === 'exact' || shape === 'anyport') b.writeUInt8(protocol, 4);
  if (shape === 'exact') b.writeUInt16BE(port, 8);
  if (shape === 'anyproto') b.writeUInt16BE(port, 4);
  return b;
}

export function encodeAddress(address: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(address >>> 0, 0);
  return b;
}

/**
 * The key of a slot's client-subnet binding in the binding set of its shape: `source . slot key`; the
 * range runs from the prefix's first to its last address (both ends carry the slot key).
 */
export function encodeBindingKeys(shape: KeyShape, source: { network: number; prefixLength: number }, address: number, protocol: number, port: number): { key: Buffer; keyEnd: Buffer } {
  const slot = encodeKey(shape, address, protocol, port);
  const last = (source.network | (source.prefixLength === 0 ? 0xffffffff : ~(-1 << (32 - source.prefixLength)))) >>> 0;
  return { key: Buffer.concat([encodeAddress(source.network), slot]), keyEnd: Buffer.concat([encodeAddress(last), slot]) };
}

/**
 * The addon's record format (nft_elems.c): kind (bit 0x80: a key end follows the key), set name, key,
 * [key end], data, timeout (u32 LE, 0 none).
 */
export function encodeOps(ops: readonly ElementOp[]): Buffer {
  const parts: Buffer[] = [];
  for (const op of ops) {
    const name = Buffer.from(op.set, 'ascii');
    if (name.length === 0 || name.length > 255 || !/^[A-Za-z0-9_]+$/.test(op.set)) throw new Error(`invalid set name ${JSON.stringify(op.set)}`);
    if (op.key.length === 0 || op.key.length > 64) throw new Error(`invalid key length ${op.key.length}`);
    if (op.data !== undefined && op.data.length !== 4) throw new Error(`invalid data length ${op.data.length}`);
    if (op.keyEnd !== undefined && op.keyEnd.length !== op.key.length) throw new Error(`invalid key end length ${op.keyEnd.length}`);
    const t = op.timeoutMs ?? 0;
    if (!Number.isInteger(t) || t < 0 || t > 0xffffffff) throw new Error(`invalid timeout ${t}`);
    const head = Buffer.from([(op.kind === 'add' ? 1 : 2) | (op.keyEnd ? 0x80 : 0), name.length]);
    const timeout = Buffer.alloc(4);
    timeout.writeUInt32LE(t, 0);
    const data = op.data ?? Buffer.alloc(0);
    parts.push(head, name, Buffer.from([op.key.length]), op.key);
    if (op.keyEnd) parts.push(Buffer.from([op.keyEnd.length]), op.keyEnd);
    parts.push(Buffer.from([data.length]), data, timeout);
  }
  return Buffer.concat(parts);
}

export type { ElemsBinding };

export interface ElementChannelOptions extends KernelChannelOptions {
  /** The table (family ip) the sets live in. */
  table: string;
  /** Whose element session to use (default: a CommandRunner for `netns`). */
  runner?: Runner;
  /** Talk to the nf_tables of this network namespace (a name under /run/netns). */
  netns?: string;
  /** Tests: another binding. */
  binding?: ElemsBinding;
}

/** `run(ops)` is ONE transaction; ordering, group commit and retries as KernelChannel. */
export class ElementChannel extends KernelChannel<Buffer> {
  constructor(opts: ElementChannelOptions) {
    const runner = opts.runner ?? new CommandRunner(opts.netns, { elems: opts.binding });
    super(() => runner.openElements(opts.table), opts);
  }

  run(ops: ElementOp[]): Promise<void> {
    if (ops.length === 0) return Promise.resolve();
    let encoded: Buffer;
    try {
      encoded = encodeOps(ops); // a bad op fails its own run, never a merged transaction
    } catch (err) {
      return Promise.reject(err);
    }
    return this.submit(encoded);
  }
}
