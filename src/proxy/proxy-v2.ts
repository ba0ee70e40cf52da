// PROXY protocol version 2 header (haproxy's proxy-protocol.txt, §2.2): tells an upstream that asked for it
// which client the relayed connection came from, since the upstream itself only sees the relay's address.
import { ipToBytes } from '../stun/address.js';

export const PROXY_V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const VERSION_2 = 0x20;
const CMD_LOCAL = 0x00;
const CMD_PROXY = 0x01;
const AF_UNSPEC = 0x00;
const AF_INET_STREAM = 0x11;
const AF_INET6_STREAM = 0x21;

export interface Endpoint {
  address: string;
  port: number;
}

/**
 * The header for a TCP connection from `source` to `destination` (the address and port the client reached).
 * Dual-stack sockets report IPv4 peers as ::ffff:a.b.c.d; those are written as IPv4. When the two cannot be
 * written in one family, the header says LOCAL (no addresses), which the spec requires receivers to accept.
 */
export function proxyV2Header(source: Endpoint, destination: Endpoint): Buffer {
  const src = addressBytes(source.address);
  const dst = addressBytes(destination.address);
  if (!src || !dst || src.length !== dst.length) return header(CMD_LOCAL, AF_UNSPEC, Buffer.alloc(0));
  const ports = Buffer.alloc(4);
  ports.writeUInt16BE(source.port, 0);
  ports.writeUInt16BE(destination.port, 2);
  return header(CMD_PROXY, src.length === 4 ? AF_INET_STREAM : AF_INET6_STREAM, Buffer.concat([src, dst, ports]));
}

function header(command: number, family: number, body: Buffer): Buffer {
  const fixed = Buffer.alloc(4);
  fixed[0] = VERSION_2 | command;
  fixed[1] = family;
  fixed.writeUInt16BE(body.length, 2);
  return Buffer.concat([PROXY_V2_SIGNATURE, fixed, body]);
}

function addressBytes(address: string): Buffer | undefined {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return ipToBytes(m ? m[1]! : address);
}
