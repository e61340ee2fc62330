"""kube-apiserver's WithAudit filter as an ASGI wrapper
(k8s.io/apiserver/pkg/endpoints/filters/audit.go).

Installed only when a policy and a log are configured (kube: ``if sink == nil || policy
== nil { return handler }``): with auditing off the gateway's requests pass nothing of
this, and each hook in the handlers costs one context-variable read.

Each request gets a ``Recorder`` in a context variable. The handlers tell it what they
learn (``recorder`` module); this wrapper tells it when the reply's status line goes out
(``ResponseStarted`` for long-running requests, and a failed authentication's one event)
and when the handler is done (``ResponseComplete``; ``Panic`` for an exception nothing
answered but as a bug). In the blocking modes the request waits for its events: the
status line for RequestReceived (awaited where authentication happens) and
ResponseStarted, the end of the request for ResponseComplete.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.gateway.auditing import recorder as recording
from services.gateway.auditing.backend import LogBackend, Mode
from services.gateway.auditing.policy import Policy
from services.gateway.auditing.recorder import Recorder


class Auditor:
    """The policy and the log backend the gateway audits with."""

    def __init__(self, policy: Policy, backend: LogBackend) -> None:
        self.policy = policy
        self.backend = backend
        self.strict = backend.mode is Mode.BLOCKING_STRICT

    def recorder(self, scope: Scope) -> Recorder:
        return Recorder(self.policy, self.backend, scope, strict=self.strict)

    async def close(self) -> None:
        """Write the events still queued, close the log."""
        await self.backend.close()


class WithAudit:
    def __init__(self, app: ASGIApp, auditor: Auditor) -> None:
        self.app = app
        self.auditor = auditor

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        recorder = self.auditor.recorder(scope)
        token = recording.bind(recorder)

        async def send_audited(message: Message) -> None:
            if message["type"] == "http.response.start":
                pending = recorder.started(message["status"])
                if pending is not None:
                    await pending
            await send(message)

        try:
            await self.app(scope, receive, send_audited)
        except Exception as exc:
            recorder.panicked(exc)
            recorder.finished()  # written, not waited for: the error goes on up
            raise
        except BaseException:  # cancelled: the event is written, nobody waits for it
            recorder.finished()
            raise
        else:
            pending = recorder.finished()
            if pending is not None:
                await pending
        finally:
            recording.unbind(token)
