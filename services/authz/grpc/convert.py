"""Protobuf <-> domain values for the authz service."""

from __future__ import annotations

from kapi_proto import authz_pb2, common_pb2
from services.authz.authentication import User


def user_to_pb(user: User) -> common_pb2.UserInfo:
    return common_pb2.UserInfo(
        username=user.name,
        uid=user.uid,
        groups=list(user.groups),
        extra={k: common_pb2.StringList(values=list(v)) for k, v in user.extra.items()},
    )


def user_from_pb(info: common_pb2.UserInfo) -> User:
    return User(
        name=info.username,
        uid=info.uid,
        groups=tuple(info.groups),
        extra={k: tuple(v.values) for k, v in info.extra.items()},
    )


PHASES = {authz_pb2.MUTATING: "mutating", authz_pb2.VALIDATING: "validating"}
