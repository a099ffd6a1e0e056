"""Just enough server-side WebSocket (RFC 6455) for the pods/portforward subresource.

Kubernetes port-forward over WebSocket (protocol ``v4.channel.k8s.io``, what the official Python client's
``kubernetes.stream.portforward`` speaks): every binary frame starts with a channel byte; port *i* uses
data channel ``2i`` and error channel ``2i+1``; the first frame on each channel carries the port number as
two little-endian bytes. The emulator bridges the data channel to a real TCP connection (e.g. a real
Envoy's admin port), so tests see real bytes end to end.
"""

from __future__ import annotations

import base64
import hashlib
import socket
import struct
import threading
from collections.abc import Callable

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
PORTFORWARD_PROTOCOLS = ("v4.channel.k8s.io", "portforward.k8s.io")


def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


class WebSocket:
    """A server-side WebSocket over an already upgraded socket; ``send`` is thread-safe."""

    def __init__(self, sock: socket.socket, rfile) -> None:  # type: ignore[no-untyped-def]
        self.sock = sock
        self.rfile = rfile
        self._send_lock = threading.Lock()
        self.closed = False

    def _read_exact(self, n: int) -> bytes:
        data = self.rfile.read(n)
        if data is None or len(data) < n:
            raise EOFError("websocket closed")
        return bytes(data)

    def recv(self) -> tuple[int, bytes]:
        """The next complete message (opcode, payload); control frames are answered here."""
        buf, first_op = b"", None
        while True:
            b0, b1 = self._read_exact(2)
            fin, op = b0 & 0x80, b0 & 0x0F
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._read_exact(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read_exact(8))[0]
            mask = self._read_exact(4) if b1 & 0x80 else b""
            payload = self._read_exact(n)
            if mask:
                payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload)) if n < 64 else _unmask(payload, mask)
            if op == OP_PING:
                self.send(payload, OP_PONG)
                continue
            if op == OP_PONG:
                continue
            if op == OP_CLOSE:
                return OP_CLOSE, payload
            if first_op is None:
                first_op = op
            buf += payload
            if fin:
                return first_op, buf

    def send(self, payload: bytes, op: int = OP_BINARY) -> None:
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", 0x80 | op, n)
        elif n < 65536:
            head = struct.pack("!BBH", 0x80 | op, 126, n)
        else:
            head = struct.pack("!BBQ", 0x80 | op, 127, n)
        with self._send_lock:
            if self.closed:
                raise OSError("websocket closed")
            self.sock.sendall(head + payload)

    def close(self, code: int = 1000) -> None:
        try:
            self.send(struct.pack("!H", code), OP_CLOSE)
        except OSError:
            pass
        self.closed = True


def _unmask(payload: bytes, mask: bytes) -> bytes:
    n = len(payload)
    m = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
    return (int.from_bytes(payload, "big") ^ m).to_bytes(n, "big")


def serve_portforward(ws: WebSocket, ports: list[int], dial: Callable[[int], socket.socket]) -> None:
    """Run one port-forward session until either side closes. ``dial(port)`` connects to the pod's port."""
    conns: dict[int, socket.socket] = {}
    try:
        for i, port in enumerate(ports):
            le = struct.pack("<H", port)
            ws.send(bytes([2 * i]) + le)
            ws.send(bytes([2 * i + 1]) + le)
        for i, port in enumerate(ports):
            try:
                conns[i] = dial(port)
            except OSError as e:
                ws.send(bytes([2 * i + 1]) + f"error forwarding port {port} to pod: {e}".encode())
        if not conns:
            ws.close()
            return

        def pump(i: int, c: socket.socket) -> None:
            try:
                while True:
                    data = c.recv(65536)
                    if not data:
                        break
                    ws.send(bytes([2 * i]) + data)
            except OSError:
                pass
            ws.close()

        threads = [threading.Thread(target=pump, args=(i, c), daemon=True) for i, c in conns.items()]
        for t in threads:
            t.start()
        while True:
            try:
                op, data = ws.recv()
            except (EOFError, OSError):
                break
            if op == OP_CLOSE:
                break
            if op == OP_BINARY and data:
                ch = data[0]
                c = conns.get(ch // 2)
                if c is not None and ch % 2 == 0 and len(data) > 1:
                    try:
                        c.sendall(data[1:])
                    except OSError:
                        break
    finally:
        for c in conns.values():
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()
        ws.close()
