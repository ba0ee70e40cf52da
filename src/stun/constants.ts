// STUN numbers: RFC 5389 (message format, FINGERPRINT), RFC 5780 (NAT behaviour discovery) and the classic
// RFC 3489 attributes that RFC 5389 retired but old clients and servers still send.

/** RFC 5389 §6: present in every RFC 5389 message; its absence marks an RFC 3489 ("classic") message. */
export const MAGIC_COOKIE = 0x2112a442;
/** RFC 5389 §15.5: FINGERPRINT = CRC-32 of the message before it, XORed with this ("STUN"). */
export const FINGERPRINT_XOR = 0x5354554e;
export const HEADER_LENGTH = 20;
/** Transaction id length: 96 bits after the cookie (RFC 5389), 128 bits (RFC 3489). */
export const TXID_LENGTH = 12;
export const CLASSIC_TXID_LENGTH = 16;
/** More attributes than this in one message is an error (a Binding message needs fewer than ten). */
export const MAX_ATTRIBUTES = 32;
/** RFC 5389 §15.6/§15.10: reason phrase and SOFTWARE are at most 763 bytes. */
export const MAX_TEXT_BYTES = 763;

export const METHOD_BINDING = 0x001;

export type StunClass = 'request' | 'indication' | 'success' | 'error';

/** Attribute types. Types below 0x8000 are comprehension-required: a receiver that does not know one refuses the request (420). */
export const ATTR = {
  MAPPED_ADDRESS: 0x0001,
  /** RFC 3489: "send the response there" - never honoured (it would make the server a reflector) */
  RESPONSE_ADDRESS: 0x0002,
  /** RFC 3489 and RFC 5780 */
  CHANGE_REQUEST: 0x0003,
  /** RFC 3489: where the response was sent from (RFC 5780: RESPONSE-ORIGIN) */
  SOURCE_ADDRESS: 0x0004,
  /** RFC 3489: the server's other address and port (RFC 5780: OTHER-ADDRESS) */
  CHANGED_ADDRESS: 0x0005,
  USERNAME: 0x0006,
  /** RFC 3489 */
  PASSWORD: 0x0007,
  MESSAGE_INTEGRITY: 0x0008,
  ERROR_CODE: 0x0009,
  UNKNOWN_ATTRIBUTES: 0x000a,
  /** RFC 3489 */
  REFLECTED_FROM: 0x000b,
  REALM: 0x0014,
  NONCE: 0x0015,
  XOR_MAPPED_ADDRESS: 0x0020,
  /** RFC 5780: pad the response (not supported: refused with 420) */
  PADDING: 0x0026,
  /** RFC 5780: answer to another port (not supported: refused with 420) */
  RESPONSE_PORT: 0x0027,
  SOFTWARE: 0x8022,
  ALTERNATE_SERVER: 0x8023,
  FINGERPRINT: 0x8028,
  RESPONSE_ORIGIN: 0x802b,
  OTHER_ADDRESS: 0x802c,
} as const;

/** Every attribute type this codec knows (the others below 0x8000 are reported as unknown comprehension-required). */
export const KNOWN_ATTRIBUTES: ReadonlySet<number> = new Set(Object.values(ATTR));

/** CHANGE-REQUEST flags (RFC 3489 §11.2.4, RFC 5780 §7.2). */
export const CHANGE_IP = 0x04;
export const CHANGE_PORT = 0x02;

export const REASON: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  420: 'Unknown Attribute',
  500: 'Server Error',
};
