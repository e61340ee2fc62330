"""The RBAC objects in memory, indexed by subject: what the authorizer reads per request.

kube's RBAC authorizer walks every ClusterRoleBinding (and the RoleBindings of the
request's namespace) from its informers' listers on each request
(``pkg/registry/rbac/validation/rule.go`` ``VisitRulesFor``). Here the same objects come
from four informers (``kapi.informer``), one watch per RBAC type, and are indexed by the
subjects they name, so a request visits only the bindings that can apply to its user.
The index is rebuilt, whole, on the first read after any change: a change is effective
as soon as its watch event has arrived.

Bindings are visited in name order (ClusterRoleBindings, then the namespace's
RoleBindings), each with its first subject that applies, as kube describes the rule that
allowed a request: ``ClusterRoleBinding "x" of ClusterRole "y" to Group "z"``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from kapi.user import UserInfo, split_service_account
from services.authz.authorization.rules import PolicyRule, go_quote, rules_from_json

Obj = dict[str, Any]
Handler = Callable[[str, Obj | None, Obj | None], None]

GROUP = "rbac.authorization.k8s.io"


class Objects(Protocol):
    """One RBAC type's objects (``kapi.informer.Informer`` is one)."""

    @property
    def changed_at(self) -> int:
        """The revision of the last change applied."""
        ...

    def items(self) -> list[Obj]: ...

    def on_change(self, handler: Handler) -> None: ...


@dataclass(frozen=True, slots=True)
class Subject:
    kind: str  # User, Group, ServiceAccount (anything else applies to nobody)
    name: str
    namespace: str = ""

    @classmethod
    def from_json(cls, subject: Any) -> Subject:
        if not isinstance(subject, dict):
            return cls("", "")
        return cls(
            str(subject.get("kind") or ""),
            str(subject.get("name") or ""),
            str(subject.get("namespace") or ""),
        )

    def describe(self, binding_namespace: str) -> str:
        """describeSubject: ``Group "x"``, ``ServiceAccount "name/namespace"``."""
        if self.kind == "ServiceAccount":
            return (
                f"{self.kind} {go_quote(self.name + '/' + (self.namespace or binding_namespace))}"
            )
        return f"{self.kind} {go_quote(self.name)}"

    def applies_to(self, user: UserInfo, binding_namespace: str) -> bool:
        """appliesToUser."""
        if self.kind == "User":
            return user.username == self.name
        if self.kind == "Group":
            return self.name in user.groups
        if self.kind == "ServiceAccount":
            namespace = self.namespace or binding_namespace
            return bool(namespace) and user.username == (
                f"system:serviceaccount:{namespace}:{self.name}"
            )
        return False


@dataclass(frozen=True, slots=True)
class Binding:
    """A RoleBinding (``namespace`` set) or ClusterRoleBinding."""

    name: str
    namespace: str
    role_kind: str
    role_name: str
    subjects: tuple[Subject, ...]

    @classmethod
    def from_json(cls, obj: Obj) -> Binding:
        meta = obj.get("metadata") or {}
        ref = obj.get("roleRef")
        ref = ref if isinstance(ref, dict) else {}
        subjects = obj.get("subjects")
        subjects = subjects if isinstance(subjects, list) else []
        return cls(
            name=str(meta.get("name") or ""),
            namespace=str(meta.get("namespace") or ""),
            role_kind=str(ref.get("kind") or ""),
            role_name=str(ref.get("name") or ""),
            subjects=tuple(Subject.from_json(s) for s in subjects),
        )

    def describe(self, subject: Subject) -> str:
        """clusterRoleBindingDescriber / roleBindingDescriber."""
        if self.namespace:
            return (
                f"RoleBinding {go_quote(self.name + '/' + self.namespace)} of {self.role_kind} "
                f"{go_quote(self.role_name)} to {subject.describe(self.namespace)}"
            )
        return (
            f"ClusterRoleBinding {go_quote(self.name)} of {self.role_kind} "
            f"{go_quote(self.role_name)} to {subject.describe('')}"
        )

    def first_subject(self, user: UserInfo) -> Subject | None:
        for subject in self.subjects:
            if subject.applies_to(user, self.namespace):
                return subject
        return None


@dataclass
class _BySubject:
    """Bindings by the subjects that name them (a binding under each of its subjects)."""

    users: dict[str, list[Binding]]
    groups: dict[str, list[Binding]]
    service_accounts: dict[tuple[str, str], list[Binding]]

    @classmethod
    def of(cls, bindings: Iterable[Binding]) -> _BySubject:
        index = cls({}, {}, {})
        for binding in bindings:
            for subject in binding.subjects:
                if subject.kind == "User":
                    index.users.setdefault(subject.name, []).append(binding)
                elif subject.kind == "Group":
                    index.groups.setdefault(subject.name, []).append(binding)
                elif subject.kind == "ServiceAccount":
                    namespace = subject.namespace or binding.namespace
                    if namespace:
                        key = (namespace, subject.name)
                        index.service_accounts.setdefault(key, []).append(binding)
        return index

    def for_user(self, user: UserInfo) -> list[Binding]:
        """The bindings naming ``user``, its groups or its ServiceAccount, once each, in
        name order."""
        found: dict[int, Binding] = {}
        for binding in self.users.get(user.username, ()):
            found[id(binding)] = binding
        for group in user.groups:
            for binding in self.groups.get(group, ()):
                found[id(binding)] = binding
        account = split_service_account(user.username)
        if account is not None:
            for binding in self.service_accounts.get(account, ()):
                found[id(binding)] = binding
        return sorted(found.values(), key=lambda b: b.name)


class _Snapshot:
    """The index at one moment; replaced whole on change."""

    def __init__(
        self,
        roles: Iterable[Obj],
        role_bindings: Iterable[Obj],
        cluster_roles: Iterable[Obj],
        cluster_role_bindings: Iterable[Obj],
    ) -> None:
        self.roles: dict[tuple[str, str], tuple[PolicyRule, ...]] = {}
        for obj in roles:
            meta = obj.get("metadata") or {}
            key = (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
            self.roles[key] = rules_from_json(obj.get("rules"))
        self.cluster_roles: dict[str, tuple[PolicyRule, ...]] = {}
        for obj in cluster_roles:
            name = str((obj.get("metadata") or {}).get("name") or "")
            self.cluster_roles[name] = rules_from_json(obj.get("rules"))
        self.cluster_bindings = _BySubject.of(Binding.from_json(o) for o in cluster_role_bindings)
        by_namespace: dict[str, list[Binding]] = {}
        for obj in role_bindings:
            binding = Binding.from_json(obj)
            by_namespace.setdefault(binding.namespace, []).append(binding)
        self.namespace_bindings = {ns: _BySubject.of(bs) for ns, bs in by_namespace.items()}


@dataclass(frozen=True, slots=True)
class Visit:
    """One rule that applies to a user, and where it came from; or an error met
    resolving a binding's role (``rule`` None)."""

    rule: PolicyRule | None
    source: str = ""
    error: str = ""


class PolicyIndex:
    """The RBAC objects of four sources, indexed; ``revision`` is the latest change's."""

    def __init__(
        self,
        roles: Objects,
        role_bindings: Objects,
        cluster_roles: Objects,
        cluster_role_bindings: Objects,
    ) -> None:
        self._sources = (roles, role_bindings, cluster_roles, cluster_role_bindings)
        self._snapshot: _Snapshot | None = None
        self._listeners: list[Callable[[], None]] = []
        for source in self._sources:
            source.on_change(self._changed)

    @property
    def revision(self) -> int:
        """The etcd revision of the last change to any RBAC object this index holds."""
        return max(source.changed_at for source in self._sources)

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after any change (it must not block)."""
        self._listeners.append(listener)

    def _changed(self, kind: str, new: Obj | None, old: Obj | None) -> None:
        self._snapshot = None
        for listener in self._listeners:
            listener()

    def _current(self) -> _Snapshot:
        if self._snapshot is None:
            roles, role_bindings, cluster_roles, cluster_role_bindings = self._sources
            self._snapshot = _Snapshot(
                roles.items(),
                role_bindings.items(),
                cluster_roles.items(),
                cluster_role_bindings.items(),
            )
        return self._snapshot

    def cluster_role(self, name: str) -> Obj | None:
        """The ClusterRole object called ``name`` as held (not to be changed)."""
        for obj in self._sources[2].items():
            if (obj.get("metadata") or {}).get("name") == name:
                return obj
        return None

    def role_reference_rules(
        self, kind: str, name: str, binding_namespace: str
    ) -> tuple[tuple[PolicyRule, ...], str]:
        """GetRoleReferenceRules: the rules of a binding's role, or the error (a lister's
        NotFound, as kube's authorizer words it)."""
        snapshot = self._current()
        if kind == "Role":
            rules = snapshot.roles.get((binding_namespace, name))
            if rules is None:
                return (), f"role.{GROUP} {go_quote(name)} not found"
            return rules, ""
        if kind == "ClusterRole":
            rules = snapshot.cluster_roles.get(name)
            if rules is None:
                return (), f"clusterrole.{GROUP} {go_quote(name)} not found"
            return rules, ""
        return (), f"unsupported role reference kind: {go_quote(kind)}"

    def visit(self, user: UserInfo, namespace: str) -> Iterator[Visit]:
        """VisitRulesFor: every rule that applies to ``user`` in ``namespace`` (cluster
        bindings first), and each error met on the way."""
        snapshot = self._current()
        scopes = [snapshot.cluster_bindings]
        if namespace:
            local = snapshot.namespace_bindings.get(namespace)
            if local is not None:
                scopes.append(local)
        for scope in scopes:
            for binding in scope.for_user(user):
                subject = binding.first_subject(user)
                if subject is None:
                    continue
                rules, error = self.role_reference_rules(
                    binding.role_kind, binding.role_name, binding.namespace
                )
                if error:
                    yield Visit(None, error=error)
                    continue
                source = binding.describe(subject)
                for rule in rules:
                    yield Visit(rule, source)
