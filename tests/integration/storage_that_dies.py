"""A storage service that dies right after etcd commits the create of an object named
``doomed-…``, before it answers: storage killed between etcd's commit and its reply.

``python -m tests.integration.storage_that_dies ETCD_URL`` prints its port, then serves.
"""

from __future__ import annotations

import asyncio
import os
import sys

from services.storage.etcd_backend import EtcdBackend
from services.storage.server import StorageConfig, create_server

EXIT_CODE = 17


class DiesAfterCommit(EtcdBackend):
    async def create(self, key: str, value: bytes) -> int:
        revision = await super().create(key, value)
        if "/doomed-" in key:
            os._exit(EXIT_CODE)  # committed; the reply is never sent
        return revision


async def main(etcd: str) -> None:
    config = StorageConfig(listen="127.0.0.1:0", etcd_endpoints=[etcd], bookmark_interval=0.2)
    server, port = await create_server(config, backend=DiesAfterCommit([etcd]))
    await server.start()
    print(port, flush=True)
    await server.wait_for_termination()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
