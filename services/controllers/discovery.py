"""Which resources the server serves: client-go's ``ServerPreferredResources``.

The namespace controller deletes every namespaced resource it finds here, and the garbage
collector watches every resource with list, watch and delete. One group's failure does
not hide the others: they are reported as ``failed`` (kube's
``ErrGroupDiscoveryFailed``) while the rest are used.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kapi import errors
from kapi.kube.client import ApiClient
from kapi.kube.resources import Resource


@dataclass(frozen=True)
class Discovered:
    """One served resource with its verbs."""

    resource: Resource
    verbs: frozenset[str]


@dataclass
class Discovery:
    resources: list[Discovered] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # group/version -> error


def _resources(group: str, version: str, listing: dict[str, object]) -> list[Discovered]:
    out = []
    for item in listing.get("resources") or []:  # type: ignore[attr-defined]
        if not isinstance(item, dict) or "/" in str(item.get("name", "")):
            continue  # subresources
        out.append(
            Discovered(
                Resource(
                    group,
                    version,
                    str(item["name"]),
                    str(item.get("kind", "")),
                    namespaced=bool(item.get("namespaced")),
                ),
                frozenset(str(v) for v in item.get("verbs") or []),
            )
        )
    return out


async def preferred_resources(client: ApiClient) -> Discovery:
    """Every group's preferred version's resources (legacy discovery documents)."""
    found = Discovery()
    try:
        core = await client.request("GET", "/api/v1")
        found.resources.extend(_resources("", "v1", core))
    except errors.StatusError as err:
        found.failed["v1"] = err.message
    groups = await client.request("GET", "/apis")
    for group in groups.get("groups") or []:
        preferred = (group.get("preferredVersion") or {}).get("groupVersion")
        if not preferred:
            continue
        name, _, version = str(preferred).partition("/")
        try:
            listing = await client.request("GET", f"/apis/{preferred}")
        except errors.StatusError as err:
            found.failed[str(preferred)] = err.message
            continue
        found.resources.extend(_resources(name, version, listing))
    return found
