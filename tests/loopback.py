"""A TCP server on a free loopback port, for tests that need a server speaking something other than the API."""

import socket
import threading


class LoopbackServer:
    """Accepts on 127.0.0.1 and hands each connection to handle() on a thread of its own.

    `connections` counts the connections accepted: one per attempt a client made. Subclasses set their own
    attributes before calling this __init__, since a client may connect as soon as it returns.
    """

    def __init__(self):
        self.connections = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            self.connections += 1
            threading.Thread(target=self.handle, args=(client,), daemon=True).start()

    def handle(self, client: socket.socket):
        raise NotImplementedError

    def close(self):
        self.listener.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
