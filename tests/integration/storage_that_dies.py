"""A storage service that dies right after etcd commits the create of an object named
``doomed-…``, before it answers: storage killed between etcd's commit and its reply.

``python -m tests.integration.storage_that_dies ETCD_URL PKI_DIR`` prints its port, then
serves, with the certificates of the etcd fixture's ``kapi.pki`` layout in ``PKI_DIR``.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from kapi import pki
from services.storage.etcd_backend import EtcdBackend
from services.storage.server import StorageConfig, create_server

EXIT_CODE = 17


class DiesAfterCommit(EtcdBackend):
    async def create(self, key: str, value: bytes) -> int:
        revision = await super().create(key, value)
        if "/doomed-" in key:
            os._exit(EXIT_CODE)  # committed; the reply is never sent
        return revision


async def main(etcd: str, pki_dir: str) -> None:
    internal = pki.ensure_internal(Path(pki_dir))
    config = StorageConfig(
        listen="127.0.0.1:0",
        etcd_endpoints=[etcd],
        etcd_tls=internal.etcd_client,
        bookmark_interval=0.2,
        tls=internal.service("storage"),
    )
    backend = DiesAfterCommit([etcd], tls=internal.etcd_client)
    server, port = await create_server(config, backend=backend)
    await server.start()
    print(port, flush=True)
    await server.wait_for_termination()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
