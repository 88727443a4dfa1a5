#!/usr/bin/env python3
"""RSS of adsim while 100 unauthenticated connections each send all but the last byte of a
10 MB LDAP message (issue 13), and after they close.

usage: python3 simulator/benches/half_sent.py ADSIM_BINARY [--connections 100] [--megabytes 10]

Starts ADSIM_BINARY on free loopback ports, opens the connections, sends each message's header
(a SEQUENCE announcing the full length) and then its content except the last byte, 64 KiB at a
time round-robin, until every connection has sent it or was closed by the server. Prints the
server's VmRSS and VmHWM from /proc then, and VmRSS 2 s after every connection closed.
"""
import os
import socket
import subprocess
import sys
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def memory(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(value.split()[0]) // 1024
    return fields


def main():
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    binary, connections, megabytes = args[0], 100, 10
    if "--connections" in args:
        connections = int(args[args.index("--connections") + 1])
    if "--megabytes" in args:
        megabytes = int(args[args.index("--megabytes") + 1])
    plain, ldaps = free_port(), free_port()
    server = subprocess.Popen(
        [binary, "--listen", f"127.0.0.1:{plain}", "--ldaps", f"127.0.0.1:{ldaps}",
         "--admin-password", "Bench-Pw-1!"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    server.stdout.readline()
    try:
        length = megabytes * 1000 * 1000 - 6
        header = bytes([0x30, 0x84]) + length.to_bytes(4, "big")
        to_send = length - 1
        chunk = bytes(64 * 1024)
        sockets = []
        for _ in range(connections):
            s = socket.create_connection(("127.0.0.1", plain))
            s.sendall(header)
            s.setblocking(False)
            sockets.append([s, to_send])
        started = time.time()
        closed = 0
        while any(left > 0 for _, left in sockets) and time.time() - started < 120:
            progress = False
            for item in sockets:
                s, left = item
                if left <= 0:
                    continue
                try:
                    sent = s.send(chunk[: min(len(chunk), left)])
                    item[1] -= sent
                    progress = progress or sent > 0
                except BlockingIOError:
                    pass
                except OSError:
                    item[1] = 0
                    closed += 1
            if not progress:
                time.sleep(0.01)
        time.sleep(1)
        held = memory(server.pid)
        sent_mb = sum(to_send - max(left, 0) for _, left in sockets) / 1e6
        print(f"{connections} connections x {megabytes} MB announced: server closed {closed}, "
              f"{sent_mb:.0f} MB accepted in {time.time() - started:.1f} s; "
              f"RSS {held['VmRSS']} MiB, peak {held['VmHWM']} MiB")
        for s, _ in sockets:
            s.close()
        time.sleep(2)
        print(f"2 s after closing: RSS {memory(server.pid)['VmRSS']} MiB")
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
