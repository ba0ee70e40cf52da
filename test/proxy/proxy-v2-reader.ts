// A PROXY protocol v2 reader written from haproxy's proxy-protocol.txt §2.2, independent of the encoder.
import { bytesToIp } from '../../src/stun/address.js';

export interface ParsedProxyV2 {
  command: 'LOCAL' | 'PROXY';
  family: 'UNSPEC' | 'TCP4' | 'TCP6';
  source?: { address: string; port: number };
  destination?: { address: string; port: number };
  /** header length in bytes (16 + the length field) */
  length: number;
}

/** Reads a v2 header at the start of `b`; undefined when there is none (or it is not whole yet). */
export function parseProxyV2(b: Buffer): ParsedProxyV2 | undefined {
  const sig = '0d0a0d0a000d0a515549540a';
  if (b.length < 16 || b.subarray(0, 12).toString('hex') !== sig) return undefined;
  if (b[12]! >> 4 !== 2) return undefined;
  const length = 16 + b.readUInt16BE(14);
  if (b.length < length) return undefined;
  const command = (b[12]! & 0x0f) === 1 ? 'PROXY' : 'LOCAL';
  if (b[13] === 0x11) {
    return {
      command, family: 'TCP4', length,
      source: { address: bytesToIp(b.subarray(16, 20)), port: b.readUInt16BE(24) },
      destination: { address: bytesToIp(b.subarray(20, 24)), port: b.readUInt16BE(26) },
    };
  }
  if (b[13] === 0x21) {
    return {
      command, family: 'TCP6', length,
      source: { address: bytesToIp(b.subarray(16, 32)), port: b.readUInt16BE(48) },
      destination: { address: bytesToIp(b.subarray(32, 48)), port: b.readUInt16BE(50) },
    };
  }
  return { command, family: 'UNSPEC', length };
}
