"""The HTTP server base shared by the three listeners."""

from __future__ import annotations

import socket
from http.server import ThreadingHTTPServer


class Server(ThreadingHTTPServer):
    """Threaded (daemon threads), a deep accept queue, and TCP_NODELAY on every connection: a
    response is written as headers then body, and Nagle's algorithm would hold the body back
    until the client's delayed ACK (40 ms per request on Linux)."""

    daemon_threads = True
    request_queue_size = 128

    def get_request(self):
        sock, address = super().get_request()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock, address


def read_body(handler) -> bytes:
    """The request body of a BaseHTTPRequestHandler: Content-Length or chunked."""
    rfile, headers = handler.rfile, handler.headers
    if headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int(rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            chunks.append(rfile.read(size))
            rfile.readline()
    length = int(headers.get("Content-Length") or 0)
    return rfile.read(length) if length else b""
