"""A storage service that dies on the first call it gets, before answering it: what a
client sees of a peer killed while its call is in flight.

``python -m tests.unit.peer_that_dies`` prints the port it serves on, then serves.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any, NoReturn

from kapi import rpc
from kapi_proto import storage_pb2_grpc

EXIT_CODE = 17


class DiesOnCall(storage_pb2_grpc.StorageServicer):
    async def Get(self, request: Any, context: Any) -> NoReturn:
        os._exit(EXIT_CODE)

    async def Update(self, request: Any, context: Any) -> NoReturn:
        os._exit(EXIT_CODE)

    async def CurrentRevisions(self, asks: Any, context: Any) -> NoReturn:
        await anext(asks)  # the first ask has arrived
        os._exit(EXIT_CODE)


async def main() -> None:
    server, port = rpc.server("127.0.0.1:0", tls=None)
    storage_pb2_grpc.add_StorageServicer_to_server(DiesOnCall(), server)
    await server.start()
    print(port, flush=True)
    await server.wait_for_termination()


if __name__ == "__main__":
    asyncio.run(main())
