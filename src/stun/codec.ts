// STUN message codec: RFC 5389 messages (magic cookie, 96-bit transaction id, padded attributes, FINGERPRINT)
// and RFC 3489 classic messages (no cookie, 128-bit transaction id). Pure. decode() never throws: any input
// gives a message or an error value, with the header when it was readable (so a server can answer 400).
import { crc32 } from 'node:zlib';
import { decodeAddressValue, encodeAddressValue, type TransportAddress } from './address.js';
import {
  ATTR,
  CHANGE_IP,
  CHANGE_PORT,
  CLASSIC_TXID_LENGTH,
  FINGERPRINT_XOR,
  HEADER_LENGTH,
  KNOWN_ATTRIBUTES,
  MAGIC_COOKIE,
  MAX_ATTRIBUTES,
  MAX_TEXT_BYTES,
  METHOD_BINDING,
  REASON,
  TXID_LENGTH,
  type StunClass,
} from './constants.js';

export interface StunHeader {
  /** RFC 3489 message: no magic cookie, 16-byte transaction id */
  classic: boolean;
  method: number;
  cls: StunClass;
  /** 12 bytes (RFC 5389) or 16 bytes (classic); a view into the decoded buffer */
  transactionId: Buffer;
}

export interface ChangeRequest {
  changeIp: boolean;
  changePort: boolean;
}

export interface ErrorCode {
  code: number;
  reason: string;
}

export interface RawAttribute {
  type: number;
  /** value without padding; a view into the decoded buffer */
  value: Buffer;
}

/** A decoded message. Typed fields hold the first occurrence of each known attribute (later ones are ignored). */
export interface StunMessage extends StunHeader {
  /** every attribute in wire order, FINGERPRINT included */
  attributes: RawAttribute[];
  /** a FINGERPRINT was present (and it was valid: a wrong one is a decode error) */
  fingerprint: boolean;
  /** comprehension-required types (< 0x8000) this codec does not know, in order, each once */
  unknownRequired: number[];
  mappedAddress?: TransportAddress;
  xorMappedAddress?: TransportAddress;
  responseOrigin?: TransportAddress;
  otherAddress?: TransportAddress;
  sourceAddress?: TransportAddress;
  changedAddress?: TransportAddress;
  changeRequest?: ChangeRequest;
  software?: string;
  errorCode?: ErrorCode;
  unknownAttributes?: number[];
}

export type DecodeErrorCode =
  | 'too-short'
  | 'not-stun'
  | 'bad-length'
  | 'too-many-attributes'
  | 'truncated-attribute'
  | 'bad-attribute'
  | 'bad-fingerprint'
  | 'attribute-after-fingerprint';

export interface DecodeError {
  code: DecodeErrorCode;
  reason: string;
  /** present when the header itself was sound (the body was not) */
  header?: StunHeader;
}

export type DecodeResult = { ok: true; message: StunMessage } | { ok: false; error: DecodeError };

const CLASS_BITS: Record<StunClass, number> = { request: 0, indication: 1, success: 2, error: 3 };
const CLASSES: StunClass[] = ['request', 'indication', 'success', 'error'];

/** RFC 5389 §6: the method's 12 bits and the class's 2 bits interleaved in the 14-bit message type. */
export function messageType(method: number, cls: StunClass): number {
  const c = CLASS_BITS[cls];
  return (method & 0x000f) | ((method & 0x0070) << 1) | ((method & 0x0f80) << 2) | ((c & 1) << 4) | ((c & 2) << 7);
}

function splitType(t: number): { method: number; cls: StunClass } {
  const method = (t & 0x000f) | ((t & 0x00e0) >> 1) | ((t & 0x3e00) >> 2);
  return { method, cls: CLASSES[((t >> 4) & 1) | ((t >> 7) & 2)]! };
}

const fail = (code: DecodeErrorCode, reason: string, header?: StunHeader): DecodeResult => ({ ok: false, error: { code, reason, header } });

/** Decode one STUN message (one UDP datagram). Never throws. */
export function decode(input: Uint8Array): DecodeResult {
  if (!(input instanceof Uint8Array)) return fail('not-stun', 'not a byte buffer');
  const buf = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  if (buf.length < HEADER_LENGTH) return fail('too-short', `${buf.length} bytes, a STUN header is 20`);
  if ((buf[0]! & 0xc0) !== 0) return fail('not-stun', 'the first two bits of a STUN message are zero');
  const length = buf.readUInt16BE(2);
  if (length % 4 !== 0) return fail('bad-length', `message length ${length} is not a multiple of 4`);
  if (HEADER_LENGTH + length !== buf.length) {
    return fail('bad-length', `message length ${length} but ${buf.length - HEADER_LENGTH} bytes follow the header`);
  }
  const classic = buf.readUInt32BE(4) !== MAGIC_COOKIE;
  const header: StunHeader = {
    classic,
    ...splitType(buf.readUInt16BE(0)),
    transactionId: buf.subarray(classic ? 4 : 8, HEADER_LENGTH),
  };
  const msg: StunMessage = { ...header, attributes: [], fingerprint: false, unknownRequired: [] };
  const xorKey = buf.subarray(4, HEADER_LENGTH);
  for (let at = HEADER_LENGTH; at < buf.length; ) {
    if (msg.attributes.length === MAX_ATTRIBUTES) return fail('too-many-attributes', `more than ${MAX_ATTRIBUTES} attributes`, header);
    if (at + 4 > buf.length) return fail('truncated-attribute', `attribute header at offset ${at} is cut`, header);
    const type = buf.readUInt16BE(at);
    const len = buf.readUInt16BE(at + 2);
    if (at + 4 + len > buf.length) return fail('truncated-attribute', `attribute 0x${hex(type)} (${len} bytes) runs past the message`, header);
    const value = buf.subarray(at + 4, at + 4 + len);
    if (type === ATTR.FINGERPRINT) {
      if (at + 4 + ((len + 3) & ~3) !== buf.length) return fail('attribute-after-fingerprint', 'FINGERPRINT must be the last attribute', header);
      const want = (crc32(buf.subarray(0, at)) ^ FINGERPRINT_XOR) >>> 0;
      if (len !== 4 || value.readUInt32BE(0) !== want) return fail('bad-fingerprint', 'FINGERPRINT does not match the message', header);
      msg.fingerprint = true;
    } else {
      const problem = readAttribute(msg, type, value, xorKey);
      if (problem) return fail('bad-attribute', `attribute 0x${hex(type)}: ${problem}`, header);
    }
    msg.attributes.push({ type, value });
    at += 4 + ((len + 3) & ~3);
  }
  return { ok: true, message: msg };
}

const hex = (n: number) => n.toString(16).padStart(4, '0');
const ADDRESS_FIELDS = new Map<number, 'mappedAddress' | 'responseOrigin' | 'otherAddress' | 'sourceAddress' | 'changedAddress'>([
  [ATTR.MAPPED_ADDRESS, 'mappedAddress'],
  [ATTR.RESPONSE_ORIGIN, 'responseOrigin'],
  [ATTR.OTHER_ADDRESS, 'otherAddress'],
  [ATTR.SOURCE_ADDRESS, 'sourceAddress'],
  [ATTR.CHANGED_ADDRESS, 'changedAddress'],
]);
const OTHER_ADDRESS_TYPES = new Set<number>([ATTR.RESPONSE_ADDRESS, ATTR.REFLECTED_FROM, ATTR.ALTERNATE_SERVER]);

/** Checks one attribute and fills the message's typed field; returns a problem text when it is malformed. */
function readAttribute(msg: StunMessage, type: number, v: Buffer, xorKey: Buffer): string | undefined {
  const field = ADDRESS_FIELDS.get(type);
  if (field || type === ATTR.XOR_MAPPED_ADDRESS || OTHER_ADDRESS_TYPES.has(type)) {
    const a = decodeAddressValue(v, type === ATTR.XOR_MAPPED_ADDRESS ? xorKey : undefined);
    if (!a) return 'not a valid address (family 1 with 4 bytes or family 2 with 16)';
    if (field) msg[field] ??= a;
    else if (type === ATTR.XOR_MAPPED_ADDRESS) msg.xorMappedAddress ??= a;
    return undefined;
  }
  switch (type) {
    case ATTR.CHANGE_REQUEST:
      if (v.length !== 4) return 'CHANGE-REQUEST is 4 bytes';
      msg.changeRequest ??= { changeIp: (v[3]! & CHANGE_IP) !== 0, changePort: (v[3]! & CHANGE_PORT) !== 0 };
      return undefined;
    case ATTR.SOFTWARE:
      if (v.length > MAX_TEXT_BYTES) return `SOFTWARE longer than ${MAX_TEXT_BYTES} bytes`;
      msg.software ??= v.toString('utf8');
      return undefined;
    case ATTR.ERROR_CODE: {
      if (v.length < 4 || v.length > 4 + MAX_TEXT_BYTES) return 'ERROR-CODE is 4 bytes and a reason of at most 763';
      const cls = v[2]! & 0x07;
      const num = v[3]!;
      if (cls < 3 || cls > 6 || num > 99) return `error code class ${cls} number ${num} is out of range`;
      msg.errorCode ??= { code: cls * 100 + num, reason: v.subarray(4).toString('utf8') };
      return undefined;
    }
    case ATTR.UNKNOWN_ATTRIBUTES: {
      if (v.length % 2 !== 0) return 'UNKNOWN-ATTRIBUTES is a list of 16-bit types';
      const types: number[] = [];
      for (let i = 0; i < v.length; i += 2) types.push(v.readUInt16BE(i));
      msg.unknownAttributes ??= types;
      return undefined;
    }
    case ATTR.MESSAGE_INTEGRITY:
      return v.length === 20 ? undefined : 'MESSAGE-INTEGRITY is 20 bytes';
    case ATTR.RESPONSE_PORT:
      return v.length === 4 ? undefined : 'RESPONSE-PORT is 4 bytes';
    default:
      if (type < 0x8000 && !KNOWN_ATTRIBUTES.has(type) && !msg.unknownRequired.includes(type)) msg.unknownRequired.push(type);
      return undefined;
  }
}

/** An attribute to encode. */
export type OutAttribute =
  | {
      type: 'mapped-address' | 'xor-mapped-address' | 'response-origin' | 'other-address' | 'source-address' | 'changed-address';
      address: TransportAddress;
    }
  | { type: 'change-request'; changeIp: boolean; changePort: boolean }
  | { type: 'software'; value: string }
  | { type: 'error-code'; code: number; reason?: string }
  | { type: 'unknown-attributes'; types: readonly number[] }
  | { type: 'raw'; code: number; value: Uint8Array };

export interface OutMessage {
  /** RFC 3489 format: no cookie, 16-byte transaction id, UNKNOWN-ATTRIBUTES filled to a multiple of 4 */
  classic?: boolean;
  /** default Binding */
  method?: number;
  cls: StunClass;
  /** 12 bytes, or 16 for a classic message */
  transactionId: Uint8Array;
  attributes?: readonly OutAttribute[];
  /** append a FINGERPRINT (RFC 5389 messages) */
  fingerprint?: boolean;
}

const ADDRESS_CODES = {
  'mapped-address': ATTR.MAPPED_ADDRESS,
  'xor-mapped-address': ATTR.XOR_MAPPED_ADDRESS,
  'response-origin': ATTR.RESPONSE_ORIGIN,
  'other-address': ATTR.OTHER_ADDRESS,
  'source-address': ATTR.SOURCE_ADDRESS,
  'changed-address': ATTR.CHANGED_ADDRESS,
} as const;

/**
 * Encode a message. Our own values only: throws a TypeError for a wrong transaction-id length, an address
 * that is not an IP literal, an error code out of range or a text over 763 bytes (programming errors).
 */
export function encode(m: OutMessage): Buffer {
  const classic = m.classic === true;
  const idLength = classic ? CLASSIC_TXID_LENGTH : TXID_LENGTH;
  if (m.transactionId.length !== idLength) throw new TypeError(`STUN transaction id must be ${idLength} bytes`);
  const head = Buffer.alloc(HEADER_LENGTH);
  head.writeUInt16BE(messageType(m.method ?? METHOD_BINDING, m.cls), 0);
  if (!classic) head.writeUInt32BE(MAGIC_COOKIE, 4);
  head.set(m.transactionId, classic ? 4 : 8);
  const xorKey = head.subarray(4, HEADER_LENGTH);
  const parts: Buffer[] = [head];
  for (const a of m.attributes ?? []) {
    const [code, value] = attributeValue(a, xorKey, classic);
    const tlv = Buffer.alloc(4 + ((value.length + 3) & ~3));
    tlv.writeUInt16BE(code, 0);
    tlv.writeUInt16BE(value.length, 2);
    tlv.set(value, 4);
    parts.push(tlv);
  }
  if (m.fingerprint) parts.push(Buffer.alloc(8));
  const out = Buffer.concat(parts);
  if (out.length - HEADER_LENGTH > 0xffff) throw new TypeError('STUN message longer than 65535 bytes');
  out.writeUInt16BE(out.length - HEADER_LENGTH, 2);
  if (m.fingerprint) {
    const at = out.length - 8;
    out.writeUInt16BE(ATTR.FINGERPRINT, at);
    out.writeUInt16BE(4, at + 2);
    out.writeUInt32BE((crc32(out.subarray(0, at)) ^ FINGERPRINT_XOR) >>> 0, at + 4);
  }
  return out;
}

function attributeValue(a: OutAttribute, xorKey: Buffer, classic: boolean): [number, Uint8Array] {
  switch (a.type) {
    case 'change-request': {
      const v = Buffer.alloc(4);
      v[3] = (a.changeIp ? CHANGE_IP : 0) | (a.changePort ? CHANGE_PORT : 0);
      return [ATTR.CHANGE_REQUEST, v];
    }
    case 'software':
      return [ATTR.SOFTWARE, text(a.value)];
    case 'error-code': {
      if (!Number.isInteger(a.code) || a.code < 300 || a.code > 699) throw new TypeError(`STUN error code ${a.code} out of range`);
      const reason = text(a.reason ?? REASON[a.code] ?? '');
      const v = Buffer.alloc(4 + reason.length);
      v[2] = Math.floor(a.code / 100);
      v[3] = a.code % 100;
      v.set(reason, 4);
      return [ATTR.ERROR_CODE, v];
    }
    case 'unknown-attributes': {
      // RFC 3489 §11.2.10: an odd count repeats one type so the list fills 32-bit words (RFC 5389 pads instead)
      const types = classic && a.types.length % 2 === 1 ? [...a.types, a.types[0]!] : a.types;
      const v = Buffer.alloc(types.length * 2);
      types.forEach((t, i) => v.writeUInt16BE(t, i * 2));
      return [ATTR.UNKNOWN_ATTRIBUTES, v];
    }
    case 'raw':
      return [a.code, a.value];
    default:
      return [ADDRESS_CODES[a.type], encodeAddressValue(a.address, a.type === 'xor-mapped-address' ? xorKey : undefined)];
  }
}

function text(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  if (b.length > MAX_TEXT_BYTES) throw new TypeError(`STUN text attribute longer than ${MAX_TEXT_BYTES} bytes`);
  return b;
}
