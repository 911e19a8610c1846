"""The tuner service in the loop: a SQLite store behind a gRPC server on 127.0.0.1."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import grpc

    from tuner.client import Client
    from tuner.service import ServiceCore

__all__ = ["ServiceHarness"]


class ServiceHarness:
    """Starts ``ServiceCore(open_store("sqlite:///<folder>/bench-<pid>.db"))`` behind
    ``create_server`` on first use, and a :class:`~tuner.client.Client` to it.

    One per process: worker processes each get their own database file and server.
    """

    def __init__(self, folder: str | Path) -> None:
        self._folder = Path(folder)
        self._server: grpc.Server | None = None
        self._core: ServiceCore | None = None
        self._client: Client | None = None

    @property
    def client(self) -> Client:
        """The client of the running server, starting it first if needed."""
        if self._client is None:
            self._start()
        assert self._client is not None
        return self._client

    def _start(self) -> None:
        from tuner.client import Client
        from tuner.service import ServiceCore, create_server
        from tuner.store import open_store

        self._folder.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{self._folder / f'bench-{os.getpid()}.db'}"
        self._core = ServiceCore(open_store(url))
        self._server, port = create_server(self._core, host="127.0.0.1", port=0)
        self._server.start()
        self._client = Client(f"127.0.0.1:{port}")

    def close(self) -> None:
        """Stop the server and close the client and the store."""
        if self._client is not None:
            self._client.close()
        if self._server is not None:
            self._server.stop(None).wait()
        if self._core is not None:
            self._core.close()
        self._client = self._server = self._core = None
