// The head phase of one relayed connection, without sockets: bytes in, a decision out (wait, route by a name,
// or refuse), and the bytes to replay to the upstream. Each push costs work proportional to the new bytes
// (the HTTP scan resumes where it stopped, the TLS reader runs only once a whole record can have arrived), so
// a client trickling one byte at a time cannot make the relay rescan its head over and over.
import { headEnd, parseRequestHead, refusalResponse, resumeScanAt } from './http-head.js';
import { ALERT_UNRECOGNIZED_NAME, fatalAlert, readClientHello } from './tls-hello.js';

export type ListenerKind = 'http' | 'tls';

/** Why a connection ended without being relayed; also the keys of the relay's `refused` stats. */
export type RefusalReason =
  | 'connectionCap'
  | 'sourceCap'
  | 'headerTimeout'
  | 'oversized'
  | 'malformed'
  /** a well-formed request without a usable name: no SNI, an IP literal */
  | 'noName'
  | 'unknownName'
  | 'upstreamFailed'
  | 'upstreamTimeout';

// caps refuse before a byte is read: the connection is reset, no answer
const HTTP_STATUS: Partial<Record<RefusalReason, Parameters<typeof refusalResponse>[0]>> = {
  headerTimeout: 408,
  oversized: 431,
  malformed: 400,
  noName: 421,
  unknownName: 421,
  upstreamFailed: 502,
  upstreamTimeout: 504,
};

export type SniffResult =
  | { kind: 'pending' }
  /** `name` is canonical (names.ts), or undefined when the client sent none that can be a host name */
  | { kind: 'route'; name: string | undefined }
  | { kind: 'refuse'; reason: 'malformed' | 'oversized'; detail: string };

export class HeadSniffer {
  private buf: Buffer;
  private length = 0;
  /** HTTP: where headEnd() resumes; TLS: the length below which the reader cannot say more */
  private next = 0;
  private clientVersion = 0x0303;

  constructor(
    readonly kind: ListenerKind,
    private readonly maxBytes: number,
  ) {
    this.buf = Buffer.allocUnsafe(Math.min(2048, maxBytes));
  }

  /** Every byte received so far, in order: what the upstream gets once the connection is routed. */
  get bytes(): Buffer {
    return this.buf.subarray(0, this.length);
  }

  push(chunk: Buffer): SniffResult {
    this.append(chunk);
    return this.kind === 'http' ? this.http() : this.tls();
  }

  /** What the client is told before the close, if anything (HTTP status, TLS alert). */
  refusal(reason: RefusalReason): Buffer | undefined {
    if (this.kind === 'tls') {
      return reason === 'noName' || reason === 'unknownName' ? fatalAlert(ALERT_UNRECOGNIZED_NAME, this.clientVersion) : undefined;
    }
    const status = HTTP_STATUS[reason];
    return status === undefined ? undefined : refusalResponse(status);
  }

  private http(): SniffResult {
    const end = headEnd(this.bytes, this.next);
    if (end === -1) {
      if (this.length > this.maxBytes) return { kind: 'refuse', reason: 'oversized', detail: 'request head over the limit' };
      this.next = resumeScanAt(this.length);
      return { kind: 'pending' };
    }
    if (end > this.maxBytes) return { kind: 'refuse', reason: 'oversized', detail: 'request head over the limit' };
    const v = parseRequestHead(this.bytes.subarray(0, end));
    return v.kind === 'host' ? { kind: 'route', name: v.name } : { kind: 'refuse', reason: 'malformed', detail: v.reason };
  }

  private tls(): SniffResult {
    if (this.length < this.next) return { kind: 'pending' };
    const v = readClientHello(this.bytes, this.maxBytes);
    switch (v.kind) {
      case 'incomplete':
        this.next = v.need;
        return { kind: 'pending' };
      case 'too-large':
        return { kind: 'refuse', reason: 'oversized', detail: 'ClientHello over the limit' };
      case 'malformed':
        return { kind: 'refuse', reason: 'malformed', detail: v.reason };
      case 'hello':
        this.clientVersion = v.version;
        return { kind: 'route', name: v.serverName };
    }
  }

  /** Doubling growth keeps appends linear; the relay refuses before the buffer passes maxBytes + one chunk. */
  private append(chunk: Buffer): void {
    if (this.length + chunk.length > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + chunk.length));
      this.buf.copy(grown, 0, 0, this.length);
      this.buf = grown;
    }
    chunk.copy(this.buf, this.length);
    this.length += chunk.length;
  }
}
