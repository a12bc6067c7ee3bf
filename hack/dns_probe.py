#!/usr/bin/env python3
"""Ask a DNS server for an A record once; exit 0 if it answers with at least one address.

cluster-up.sh uses it to check that cluster DNS really serves (a Deployment's stored status can be stale
after a restart): `dns_probe.py 10.96.0.10 kubernetes.default.svc.cluster.local`.
"""

from __future__ import annotations

import secrets
import socket
import struct
import sys


def query(server: str, name: str, timeout: float = 2.0) -> list[str]:
    qid = secrets.randbits(16)
    header = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)  # recursion desired, one question
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.rstrip(".").split(".")) + b"\0"
    packet = header + qname + struct.pack(">HH", 1, 1)  # type A, class IN
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(packet, (server, 53))
        data, _ = s.recvfrom(4096)
    rid, flags, _qd, ancount, _ns, _ar = struct.unpack(">HHHHHH", data[:12])
    if rid != qid or flags & 0x000F:
        return []
    pos = 12 + len(qname) + 4
    addrs = []
    for _ in range(ancount):
        if data[pos] & 0xC0 == 0xC0:  # compressed name pointer
            pos += 2
        else:
            while data[pos]:
                pos += data[pos] + 1
            pos += 1
        rtype, _cls, _ttl, rdlen = struct.unpack(">HHIH", data[pos : pos + 10])
        pos += 10
        if rtype == 1 and rdlen == 4:
            addrs.append(socket.inet_ntoa(data[pos : pos + 4]))
        pos += rdlen
    return addrs


def main() -> None:
    server, name = sys.argv[1], sys.argv[2]
    try:
        addrs = query(server, name)
    except OSError as exc:
        sys.exit(f"{server}: {exc}")
    if not addrs:
        sys.exit(f"{server}: no address for {name}")
    print(" ".join(addrs))


if __name__ == "__main__":
    main()
