"""A TCP forwarder in front of Vault that counts the HTTP requests passing through it.

The benchmark's claim "no more Vault requests than Vault Agent" is about what reaches the
server, whatever the agent's own bookkeeping says. OpenBao only enables audit devices from its
configuration file, not for a running dev server, so the requests are counted on the wire
instead: every request line (``GET /v1/...``) a client sends. Timing runs do not go through
the proxy; only the counting runs do.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_REQUEST_LINE = re.compile(rb"(?:^|\r\n)(?:GET|PUT|POST|LIST|DELETE|PATCH|HEAD) /v1/")


class CountingProxy:
    """Listens on 127.0.0.1:<port>; forwards to ``host:port``; counts request lines."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self.requests = 0
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reset(self) -> None:
        with self._lock:
            self.requests = 0

    def close(self) -> None:
        self._stopped.set()
        self._listener.close()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self._target)
            threading.Thread(target=self._pump, args=(client, upstream, True),
                             daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False),
                             daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, count: bool) -> None:
        tail = b""
        try:
            while chunk := source.recv(65536):
                if count:
                    found = len(_REQUEST_LINE.findall(tail + chunk)) - len(
                        _REQUEST_LINE.findall(tail))
                    with self._lock:
                        self.requests += found
                    tail = chunk[-16:]
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)


@contextmanager
def counting_proxy(address: str) -> Iterator[CountingProxy]:
    """A proxy in front of ``http://host:port`` for the duration of the block."""
    host, port = address.removeprefix("http://").rsplit(":", 1)
    proxy = CountingProxy(host, int(port))
    try:
        yield proxy
    finally:
        proxy.close()
