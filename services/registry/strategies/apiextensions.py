"""apiextensions.k8s.io/v1 CustomResourceDefinitions, as objects: defaults and the
checks kube makes of names, versions and schemas (``apiextensions-apiserver``'s
``validation.ValidateCustomResourceDefinition``). Serving the custom resources they
define is another part of the registry."""

from __future__ import annotations

import copy

from kapi import errors
from kapi.errors import FieldError
from services.registry import types, validation
from services.registry.crd import validation as crd_validation
from services.registry.definition import Definition
from services.registry.pipeline import now_rfc3339
from services.registry.strategies import common
from services.registry.strategies.common import StatusStrategy, get_path, spec_of
from services.registry.strategy import Obj

CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"


class CustomResourceDefinitionStrategy(StatusStrategy):
    tracks_generation = True
    kube_finalizer_names = False  # generic ObjectMeta rules (customresourcecleanup.…)

    def default(self, obj: Obj) -> None:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return
        names = spec.get("names")
        if isinstance(names, dict):
            kind = names.get("kind")
            if isinstance(kind, str) and kind:
                names.setdefault("singular", kind.lower())
                names.setdefault("listKind", kind + "List")
        conversion = spec.setdefault("conversion", {})
        if isinstance(conversion, dict):
            conversion.setdefault("strategy", "None")

    def initial_status(self, obj: Obj) -> Obj:
        """kube's PrepareForCreate: the storage version is recorded as stored."""
        stored = [
            v["name"]
            for v in common.dicts(spec_of(obj).get("versions"))
            if v.get("storage") is True and isinstance(v.get("name"), str)
        ][:1]
        return {"acceptedNames": {"plural": "", "kind": ""}, "storedVersions": stored}

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_update(new, old)
        status = new.get("status")
        if not isinstance(status, dict):
            return
        stored = list(status.get("storedVersions") or [])
        for version in common.dicts(spec_of(new).get("versions")):
            if version.get("storage") is True and version.get("name") not in stored:
                stored.append(version["name"])
        status["storedVersions"] = stored

    def validate(self, obj: Obj) -> list[FieldError]:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return [errors.required("spec")]
        out: list[FieldError] = []
        group = spec.get("group")
        given = spec.get("names")
        names: Obj = given if isinstance(given, dict) else {}
        plural = names.get("plural")
        name = get_path(obj, "metadata", "name")
        if name != f"{plural}.{group}":
            out.append(
                errors.invalid_value(
                    "metadata.name", name, 'must be spec.names.plural+"."+spec.group'
                )
            )
        if not group:
            out.append(errors.required("spec.group"))
        elif isinstance(group, str):
            out.extend(
                errors.invalid_value("spec.group", group, m)
                for m in validation.dns1123_subdomain(group)
            )
            if len(group.split(".")) < 2:
                out.append(
                    errors.invalid_value(
                        "spec.group", group, "should be a domain with at least one dot"
                    )
                )
        scope = spec.get("scope")
        if not scope:
            out.append(errors.required("spec.scope"))
        else:
            out += common.one_of(scope, "spec.scope", ("Cluster", "Namespaced"))
        for key in ("plural", "singular", "kind", "listKind"):
            value = names.get(key)
            path = f"spec.names.{key}"
            if not value:
                out.append(errors.required(path))
            elif key in ("plural", "singular") and isinstance(value, str):
                out.extend(
                    errors.invalid_value(path, value, m) for m in validation.dns1035_label(value)
                )
        versions = common.dicts(spec.get("versions"))
        if not versions:
            out.append(
                errors.invalid_value(
                    "spec.versions", [], "must have exactly one version marked as storage version"
                )
            )
            return out
        storage = [v for v in versions if v.get("storage") is True]
        if len(storage) != 1:
            out.append(
                errors.invalid_value(
                    "spec.versions",
                    versions,
                    "must have exactly one version marked as storage version",
                )
            )
        seen: set[str] = set()
        for i, version in enumerate(versions):
            path = f"spec.versions[{i}]"
            version_name = version.get("name")
            if not version_name:
                out.append(errors.required(f"{path}.name"))
            elif isinstance(version_name, str):
                out.extend(
                    errors.invalid_value(f"{path}.name", version_name, m)
                    for m in validation.dns1035_label(version_name)
                )
                if version_name in seen:
                    out.append(
                        errors.invalid_value(
                            "spec.versions", versions, "must contain unique version names"
                        )
                    )
                seen.add(version_name)
            out += crd_validation.version_schema_problems(
                get_path(version, "schema", "openAPIV3Schema"), f"{path}.schema.openAPIV3Schema"
            )
            out += _columns(version, path)
        out += _preserve_unknown_fields(spec)
        out += _conversion(spec)
        out += _protected_group(obj, group)
        return out

    def mark_for_deletion(self, obj: Obj) -> Obj | None:
        """kube's CRD REST Delete: the cleanup finalizer and a Terminating condition;
        the CRD goes once every custom resource of it has (``crd.controllers``)."""
        marked = copy.deepcopy(obj)
        meta = marked.setdefault("metadata", {})
        finalizers = list(meta.get("finalizers") or [])
        if CLEANUP_FINALIZER not in finalizers:
            finalizers.append(CLEANUP_FINALIZER)
        meta["finalizers"] = finalizers
        status = marked.setdefault("status", {})
        conditions = [
            c
            for c in status.get("conditions") or []
            if not (isinstance(c, dict) and c.get("type") == "Terminating")
        ]
        conditions.append(
            {
                "type": "Terminating",
                "status": "True",
                "lastTransitionTime": now_rfc3339(),
                "reason": "InstanceDeletionPending",
                "message": (
                    "CustomResourceDefinition marked for deletion; CustomResource deletion "
                    "will begin soon"
                ),
            }
        )
        status["conditions"] = conditions
        return marked

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        out = self.validate(new)
        out += common.immutable(spec_of(new).get("group"), spec_of(old).get("group"), "spec.group")
        return out


COLUMN_TYPES = ("boolean", "date", "integer", "number", "string")
APPROVAL_ANNOTATION = "api-approved.kubernetes.io"


def _columns(version: Obj, path: str) -> list[FieldError]:
    out: list[FieldError] = []
    for i, column in enumerate(common.dicts(version.get("additionalPrinterColumns"))):
        at = f"{path}.additionalPrinterColumns[{i}]"
        if not column.get("name"):
            out.append(errors.required(f"{at}.name"))
        kind = column.get("type")
        if not kind:
            out.append(errors.required(f"{at}.type"))
        elif kind not in COLUMN_TYPES:
            out.append(errors.not_supported(f"{at}.type", kind, COLUMN_TYPES))
        if not column.get("jsonPath"):
            out.append(errors.required(f"{at}.jsonPath"))
    return out


def _preserve_unknown_fields(spec: Obj) -> list[FieldError]:
    if spec.get("preserveUnknownFields") is True:
        return [
            errors.invalid_value(
                "spec.preserveUnknownFields",
                True,
                "cannot set to true, set x-kubernetes-preserve-unknown-fields to true in "
                "spec.versions[*].schema instead",
            )
        ]
    return []


def _conversion(spec: Obj) -> list[FieldError]:
    conversion = spec.get("conversion")
    if not isinstance(conversion, dict):
        return []
    strategy = conversion.get("strategy")
    webhook = conversion.get("webhook")
    if strategy not in ("None", "Webhook"):
        return [errors.not_supported("spec.conversion.strategy", strategy, ("None", "Webhook"))]
    if strategy == "None":
        if webhook is not None:
            return [
                errors.forbidden_field(
                    "spec.conversion.webhook",
                    "should not be set when strategy is not set to Webhook",
                )
            ]
        return []
    if not isinstance(webhook, dict):
        return [
            errors.required("spec.conversion.webhook", "must be present when strategy is Webhook")
        ]
    out: list[FieldError] = []
    versions = webhook.get("conversionReviewVersions") or []
    if not any(v in ("v1", "v1beta1") for v in versions):
        out.append(
            errors.required(
                "spec.conversion.webhook.conversionReviewVersions",
                "must include at least one of v1, v1beta1",
            )
        )
    config = webhook.get("clientConfig")
    given = config if isinstance(config, dict) else {}
    if bool(given.get("url")) == bool(given.get("service")):
        out.append(
            errors.required(
                "spec.conversion.webhook.clientConfig", "exactly one of url or service is required"
            )
        )
    elif isinstance(given.get("url"), str) and not given["url"].startswith("https://"):
        out.append(
            errors.invalid_value(
                "spec.conversion.webhook.clientConfig.url",
                given["url"],
                "'https' is the only allowed URL scheme",
            )
        )
    return out


def _protected_group(obj: Obj, group: object) -> list[FieldError]:
    """kube's API review rule: groups under k8s.io and kubernetes.io need the approval
    annotation."""
    if not isinstance(group, str):
        return []
    protected = any(group == d or group.endswith("." + d) for d in ("k8s.io", "kubernetes.io"))
    annotations = get_path(obj, "metadata", "annotations") or {}
    if protected and not annotations.get(APPROVAL_ANNOTATION):
        return [
            errors.required(
                f"metadata.annotations[{APPROVAL_ANNOTATION}]",
                f'protected groups must have approval annotation "{APPROVAL_ANNOTATION}", see '
                "https://github.com/kubernetes/enhancements/pull/1111",
            )
        ]
    return []


# apiextensions.k8s.io/v1: the definitions themselves (their custom resources are
# served from definitions built from them: services/registry/crd).
DEFINITIONS: tuple[Definition, ...] = (
    Definition(
        group="apiextensions.k8s.io",
        version="v1",
        resource="customresourcedefinitions",
        kind="CustomResourceDefinition",
        singular="customresourcedefinition",
        namespaced=False,
        schema=(
            "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition"
        ),
        short_names=("crd", "crds"),
        categories=types.API_EXTENSIONS,
        subresources=types.STATUS,
        strategy=CustomResourceDefinitionStrategy(),
    ),
)
