// What the STUN server does with one datagram: pure, from the bytes, the socket they arrived on and the
// sender to a drop (with a reason) or a reply (bytes, and which socket sends them). StunServer only does I/O.
import { type TransportAddress, transportAddress } from './address.js';
import { decode, encode, type OutAttribute, type StunHeader, type StunMessage } from './codec.js';
import { ATTR, METHOD_BINDING } from './constants.js';

/**
 * The server's sockets: every combination of its addresses (primary, and the alternate if any) and ports
 * (primary, and the alternate if any). A socket is named by its indexes: [address index, port index].
 */
export interface ServerLayout {
  addresses: readonly string[];
  ports: readonly number[];
}

export interface Slot {
  ip: number;
  port: number;
}

export type DropReason = 'malformed' | 'bad-fingerprint' | 'not-request';

export type ReplyDecision =
  | { kind: 'drop'; reason: DropReason; detail: string }
  | {
      kind: 'reply';
      /** the socket that sends it (another one than the receiving socket when CHANGE-REQUEST asked) */
      from: Slot;
      bytes: Buffer;
      classic: boolean;
      /** set for error responses */
      errorCode?: 400 | 420;
      detail?: string;
    };

/**
 * Attributes the codec knows but this server refuses to act on, answered with 420 as if unknown:
 * RESPONSE-ADDRESS (RFC 3489) and RESPONSE-PORT (RFC 5780) would send the answer somewhere else than the
 * sender (a reflector), and PADDING (RFC 5780) would make the answer bigger than the request.
 */
const REFUSED = [ATTR.RESPONSE_ADDRESS, ATTR.RESPONSE_PORT, ATTR.PADDING] as const;

export function endpointOf(layout: ServerLayout, s: Slot): TransportAddress {
  return transportAddress(layout.addresses[s.ip]!, layout.ports[s.port]!);
}

/** The socket differing from `s` in address and port (RFC 5780 OTHER-ADDRESS, RFC 3489 CHANGED-ADDRESS), if the layout has one. */
function otherSlot(layout: ServerLayout, s: Slot): Slot | undefined {
  if (layout.addresses.length < 2) return undefined;
  return { ip: 1 - s.ip, port: layout.ports.length > 1 ? 1 - s.port : s.port };
}

export function decideReply(packet: Uint8Array, at: Slot, source: TransportAddress, layout: ServerLayout, software?: string): ReplyDecision {
  const decoded = decode(packet);
  if (!decoded.ok) {
    const { code, reason, header } = decoded.error;
    if (code === 'bad-fingerprint') return { kind: 'drop', reason: 'bad-fingerprint', detail: reason }; // RFC 5389 §7.3
    if (header?.cls === 'request') return errorReply(header, at, 400, `malformed request: ${reason}`, software);
    return { kind: 'drop', reason: 'malformed', detail: `${code}: ${reason}` };
  }
  const msg = decoded.message;
  if (msg.cls !== 'request') return { kind: 'drop', reason: 'not-request', detail: `${msg.cls} (method 0x${msg.method.toString(16)})` };
  if (msg.method !== METHOD_BINDING) return errorReply(msg, at, 400, `method 0x${msg.method.toString(16)} is not Binding`, software);

  const refused = msg.attributes.map((a) => a.type).filter((t) => (REFUSED as readonly number[]).includes(t));
  const unknown = [...new Set([...msg.unknownRequired, ...refused])];
  if (unknown.length > 0) return errorReply(msg, at, 420, `unknown or refused attributes ${unknown.map(hex).join(', ')}`, software, unknown);

  let from = at;
  const change = msg.changeRequest;
  if (change && (change.changeIp || change.changePort)) {
    from = { ip: change.changeIp ? 1 - at.ip : at.ip, port: change.changePort ? 1 - at.port : at.port };
    if (from.ip >= layout.addresses.length || from.port >= layout.ports.length) {
      const what = [change.changeIp && 'address', change.changePort && 'port'].filter(Boolean).join(' and ');
      return errorReply(msg, at, 420, `CHANGE-REQUEST: no alternate ${what} configured`, software, [ATTR.CHANGE_REQUEST]);
    }
  }
  return { kind: 'reply', from, bytes: successBytes(msg, at, from, source, layout, software), classic: msg.classic };
}

function successBytes(msg: StunMessage, at: Slot, from: Slot, source: TransportAddress, layout: ServerLayout, software?: string): Buffer {
  const origin = endpointOf(layout, from);
  // relative to where the request arrived, whatever socket answers (RFC 5780 §6.1 Table 1, RFC 3489 §11.2.3)
  const otherAt = otherSlot(layout, at);
  const other = otherAt && endpointOf(layout, otherAt);
  const attributes: OutAttribute[] = msg.classic
    ? [
        { type: 'mapped-address', address: source },
        { type: 'source-address', address: origin },
        ...(other ? [{ type: 'changed-address', address: other } as const] : []),
      ]
    : [
        // RFC 5780 §6.1: both MAPPED-ADDRESS and XOR-MAPPED-ADDRESS
        { type: 'xor-mapped-address', address: source },
        { type: 'mapped-address', address: source },
        { type: 'response-origin', address: origin },
        ...(other ? [{ type: 'other-address', address: other } as const] : []),
        ...(software ? [{ type: 'software', value: software } as const] : []),
      ];
  return encode({ classic: msg.classic, cls: 'success', transactionId: msg.transactionId, attributes, fingerprint: !msg.classic });
}

function errorReply(h: StunHeader, at: Slot, code: 400 | 420, detail: string, software?: string, unknown?: number[]): ReplyDecision {
  const attributes: OutAttribute[] = [{ type: 'error-code', code }];
  if (unknown) attributes.push({ type: 'unknown-attributes', types: unknown });
  if (software && !h.classic) attributes.push({ type: 'software', value: software });
  const bytes = encode({ classic: h.classic, method: h.method, cls: 'error', transactionId: h.transactionId, attributes, fingerprint: !h.classic });
  return { kind: 'reply', from: at, bytes, classic: h.classic, errorCode: code, detail };
}

const hex = (t: number) => `0x${t.toString(16).padStart(4, '0')}`;
