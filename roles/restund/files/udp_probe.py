#!/usr/bin/env python3
"""Send one datagram to ADDR PORT and wait for the echo. Exit 0: echoed; 2: no answer; 3: the local firewall
refused to send (EPERM, what an nftables drop in the output hook gives the sender)."""

import socket
import sys

addr, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2.0)
try:
    for _ in range(3):
        s.sendto(b"wire-bundle-probe", (addr, port))
        try:
            s.recvfrom(1024)
            print(f"echo from {addr}:{port}")
            sys.exit(0)
        except TimeoutError:
            continue
except PermissionError as exc:
    print(f"sending to {addr}:{port} refused locally: {exc}")
    sys.exit(3)
print(f"no echo from {addr}:{port}")
sys.exit(2)
