"""A list reply written in chunks: the same JSON, the right Content-Length."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from services.gateway import list_response
from services.gateway.list_response import ListResponse


async def written(response: ListResponse) -> tuple[dict[str, str], list[bytes]]:
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        messages.append(message)

    await response({"type": "http"}, receive, send)
    start, *bodies = messages
    assert start["type"] == "http.response.start"
    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    assert [m["more_body"] for m in bodies] == [True] * (len(bodies) - 1) + [False]
    return headers, [m["body"] for m in bodies]


@pytest.mark.parametrize("count", [0, 1, 2, 50])
async def test_the_chunks_make_the_list_and_its_length(
    count: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(list_response, "CHUNK", 100)
    head = orjson.dumps({"kind": "ConfigMapList", "apiVersion": "v1", "metadata": {}})
    items = [
        orjson.dumps({"metadata": {"name": f"c{i}"}, "data": {"k": "v" * i}}) for i in range(count)
    ]
    headers, chunks = await written(ListResponse(head, items, media_type="application/json"))
    body = b"".join(chunks)
    assert int(headers["content-length"]) == len(body)
    assert headers["content-type"] == "application/json"
    assert orjson.loads(body) == {
        "kind": "ConfigMapList",
        "apiVersion": "v1",
        "metadata": {},
        "items": [orjson.loads(i) for i in items],
    }
    if count == 50:
        assert len(chunks) > 10  # written a piece at a time
