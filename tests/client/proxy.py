"""A loopback TCP proxy between the client and the server that can spoil one request.

It forwards bytes both ways, and, when armed, does one thing to the Nth
request for a method: ``lose_answer`` lets the request through, lets the
server answer (so it committed), and cuts the connection instead of
passing the answer on; ``flip_byte`` inverts one byte of the request body
on its way (a chunk damaged in transit).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass


@dataclass
class Trap:
    action: str  # "lose_answer" or "flip_byte"
    method: str
    skip: int  # requests for the method to let through first
    at: int = 0  # flip_byte: the byte's position after the request line
    sprung: bool = False


class Proxy:
    """Listens on a free loopback port; forwards to ``port``."""

    def __init__(self, port: int) -> None:
        self.upstream = port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.trap: Trap | None = None
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def lose_answer(self, method: str, skip: int = 0) -> Trap:
        self.trap = Trap("lose_answer", method, skip)
        return self.trap

    def flip_byte(self, method: str, skip: int = 0, at: int = 50_000) -> Trap:
        self.trap = Trap("flip_byte", method, skip, at)
        return self.trap

    def close(self) -> None:
        self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.upstream))
            _Connection(self, client, server)


class _Connection:
    """One client connection and its server connection, a thread each way."""

    def __init__(self, proxy: Proxy, client: socket.socket, server: socket.socket) -> None:
        self.proxy, self.client, self.server = proxy, client, server
        self.drop_answer = False
        self.flip_at: int | None = None  # bytes to go until the byte to flip
        threading.Thread(target=self._upstream, daemon=True).start()
        threading.Thread(target=self._downstream, daemon=True).start()

    def _upstream(self) -> None:
        try:
            while data := self.client.recv(1 << 16):
                data = self._inspect(bytearray(data))
                self.server.sendall(data)
        except OSError:
            pass
        self._close()

    def _inspect(self, data: bytearray) -> bytearray:
        proxy, trap = self.proxy, self.proxy.trap
        if trap is not None and not trap.sprung:
            start = data.find(f"POST /srv.asmx/{trap.method} ".encode())
            if start >= 0:
                with proxy.lock:
                    if trap.skip:
                        trap.skip -= 1
                    else:
                        trap.sprung = True
                        if trap.action == "lose_answer":
                            self.drop_answer = True
                        else:
                            self.flip_at = start + trap.at
        if self.flip_at is not None:
            if self.flip_at < len(data):
                data[self.flip_at] ^= 0xFF
                self.flip_at = None
            else:
                self.flip_at -= len(data)
        return data

    def _downstream(self) -> None:
        try:
            while data := self.server.recv(1 << 16):
                if self.drop_answer:  # the server answered: the client never hears it
                    break
                self.client.sendall(data)
        except OSError:
            pass
        self._close()

    def _close(self) -> None:
        for sock in (self.client, self.server):
            with contextlib.suppress(OSError):  # closed already
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
