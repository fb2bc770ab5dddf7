#!/usr/bin/env python3
"""A UDP echo peer for the TURN verify (what turnutils_peer does): echoes datagrams for N seconds, then exits."""

import socket
import sys
import time

addr, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port))
s.settimeout(1.0)
end = time.monotonic() + seconds
while time.monotonic() < end:
    try:
        data, sender = s.recvfrom(65535)
        s.sendto(data, sender)
    except OSError:
        pass
