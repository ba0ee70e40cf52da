// Connection slots: a global cap (memory and file descriptors are finite) and a per-source cap (one client must
// not take every slot). A source is an IPv4 address or an IPv6 /64, since one IPv6 subscriber usually holds a
// whole /64 and a per-address cap would cost it nothing to evade. Entries exist only while a source holds a
// slot, so the map never outgrows the global cap.
import { ipToBytes } from '../stun/address.js';

export type AdmissionRefusal = 'connectionCap' | 'sourceCap';

export class Admission {
  private total = 0;
  private readonly bySource = new Map<string, number>();

  constructor(
    private readonly maxConnections: number,
    private readonly maxPerSource: number,
  ) {}

  /** Takes a slot for `source` (the key from sourceKey()), or says which cap refuses it. */
  admit(source: string): AdmissionRefusal | undefined {
    if (this.total >= this.maxConnections) return 'connectionCap';
    const held = this.bySource.get(source) ?? 0;
    if (held >= this.maxPerSource) return 'sourceCap';
    this.bySource.set(source, held + 1);
    this.total++;
    return undefined;
  }

  release(source: string): void {
    const held = this.bySource.get(source);
    if (held === undefined) return;
    if (held <= 1) this.bySource.delete(source);
    else this.bySource.set(source, held - 1);
    this.total--;
  }

  get active(): number {
    return this.total;
  }

  get sources(): number {
    return this.bySource.size;
  }
}

/** The key a remote address is capped under. */
export function sourceKey(remoteAddress: string | undefined): string {
  if (remoteAddress === undefined) return '?'; // a socket already reset before we looked: one shared slot group
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(remoteAddress);
  if (mapped) return mapped[1]!;
  const bytes = ipToBytes(remoteAddress);
  if (!bytes || bytes.length === 4) return remoteAddress;
  return `${bytes.subarray(0, 8).toString('hex')}/64`;
}
