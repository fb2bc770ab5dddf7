#!/usr/bin/env python3
"""Ask a Cassandra node what a CQL client asks first: an OPTIONS frame (protocol v4), expecting SUPPORTED."""

import socket
import struct
import sys

host, port = sys.argv[1], int(sys.argv[2])
with socket.create_connection((host, port), timeout=10) as s:
    s.sendall(struct.pack(">BBhBI", 0x04, 0, 1, 0x05, 0))
    head = b""
    while len(head) < 9:
        chunk = s.recv(9 - len(head))
        if not chunk:
            sys.exit("connection closed before a CQL frame arrived")
        head += chunk
    version, _flags, stream, opcode, length = struct.unpack(">BBhBI", head)
if version & 0x80 and opcode == 0x06:
    print(f"SUPPORTED from {host}:{port} (protocol v{version & 0x7f})")
else:
    sys.exit(f"unexpected CQL reply from {host}:{port}: version {version:#x} opcode {opcode:#x}")
