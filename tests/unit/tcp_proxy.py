# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A TCP forwarder on loopback in front of the test PostgreSQL, that a test can cut: the database "goes away" for a
while (every connection dropped, new ones refused), or gives at most N connections, without touching the server the
other tests share.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import socket
import threading
import time
from urllib.parse import urlsplit, urlunsplit


class TcpProxy:
    """Forwards 127.0.0.1:<port> to ``target`` (host, port). ``cut(seconds)`` drops everything and refuses for that long;
    ``limit`` caps the connections open at once (one more is closed at once, as a full server would)."""

    def __init__(self, target, limit=None):
        self.target = target
        self.limit = limit
        self.refuse_until = 0.0
        self.accepted = 0
        self._pairs = []
        self._mutex = threading.Lock()
        self._server = socket.socket()
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(('127.0.0.1', 0))
        self._server.listen(64)
        self.port = self._server.getsockname()[1]
        self._stopping = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def uri(self, uri):
        """``uri`` with its host and port replaced by this proxy's."""
        parts = urlsplit(uri)
        userinfo = parts.netloc.rsplit('@', 1)[0] + '@' if '@' in parts.netloc else ''
        return urlunsplit((parts.scheme, '%s127.0.0.1:%d' % (userinfo, self.port), parts.path, parts.query, parts.fragment))

    def _accept(self):
        while not self._stopping:
            try:
                client, _address = self._server.accept()
            except OSError:
                return
            with self._mutex:
                refused = time.monotonic() < self.refuse_until or (self.limit is not None and len(self._pairs) >= self.limit)
                if not refused:
                    self.accepted += 1
            if refused:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            pair = (client, upstream)
            with self._mutex:
                self._pairs.append(pair)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink, pair), daemon=True).start()

    def _pump(self, source, sink, pair):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        self._drop(pair)

    def _drop(self, pair):
        with self._mutex:
            if pair in self._pairs:
                self._pairs.remove(pair)
        for sock in pair:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()

    @property
    def open_connections(self):
        with self._mutex:
            return len(self._pairs)

    def cut(self, seconds):
        """The database is away for ``seconds``: every connection through the proxy ends now, new ones are refused."""
        with self._mutex:
            self.refuse_until = time.monotonic() + seconds
            pairs = list(self._pairs)
        for pair in pairs:
            self._drop(pair)

    def close(self):
        self._stopping = True
        with contextlib.suppress(OSError):
            self._server.close()
        self.cut(0)


@contextlib.contextmanager
def proxy_to(uri, limit=None):
    parts = urlsplit(uri)
    proxy = TcpProxy((parts.hostname, parts.port or 5432), limit=limit)
    try:
        yield proxy
    finally:
        proxy.close()
