"""Strategic merge patch, applied as kube-apiserver applies it.

The semantics are those of k8s.io/apimachinery ``util/strategicpatch`` on the server
(``StrategicMergeMapPatch``: parallel lists merged, unmatched nulls ignored):

- objects merge key by key; ``null`` deletes a key; a value of another JSON type replaces;
- a list whose field has ``x-kubernetes-patch-strategy: merge`` merges: items of objects by
  their ``x-kubernetes-patch-merge-key`` (new items go first unless ``$setElementOrder``
  says otherwise, matched items merge recursively), scalars as a de-duplicated union;
  any other list is replaced; a field with strategy ``replace`` is replaced whole;
- directives: ``$patch: replace`` / ``delete`` on an object, ``$patch: delete`` /
  ``replace`` items in a merged list, ``$retainKeys`` (keys of the original not listed
  are cleared), ``$deleteFromPrimitiveList/<field>`` (values removed from a scalar list),
  ``$setElementOrder/<field>`` (the order of the merged list's items);
- a value the original lacks is taken from the patch with its nulls and ``$patch``
  objects dropped; items appended to a list are taken as sent.

Errors carry kube's wording (``mergepatch`` errors) and its HTTP codes: 400 for a
malformed directive, 422 for lists of lists or retainKeys mismatches, 500 (no reason)
for the rest, as kube-apiserver's patch handler maps them.
"""

from __future__ import annotations

from typing import Any

import orjson

from services.registry.patching import schema as schemas
from services.registry.patching.goformat import go_type, go_value

Obj = dict[str, Any]

DIRECTIVE = "$patch"
DELETE = "delete"
REPLACE = "replace"
MERGE = "merge"
RETAIN_KEYS_STRATEGY = "retainKeys"
RETAIN_KEYS = "$retainKeys"
DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList"
SET_ELEMENT_ORDER = "$setElementOrder"


class PatchError(Exception):
    """A patch kube refuses; ``code`` is the HTTP status kube-apiserver answers."""

    def __init__(self, message: str, code: int = 500) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def bad_format_primitive_list() -> PatchError:
    return PatchError("invalid patch format of primitive list", 400)


def bad_format_retain_keys() -> PatchError:
    return PatchError("invalid patch format of retainKeys", 400)


def bad_format_set_element_order() -> PatchError:
    return PatchError("invalid patch format of setElementOrder list", 400)


def no_list_of_lists() -> PatchError:
    return PatchError("lists of lists are not supported", 422)


def no_merge_key(item: Obj, merge_key: str) -> PatchError:
    return PatchError(f"map: {go_value(item)} does not contain declared merge key: {merge_key}")


def bad_arg_type(expected: str, actual: Any) -> PatchError:
    return PatchError(f"expected a {expected}, but received a {go_type(actual)}")


def bad_patch_type(directive: Any, patch: Obj) -> PatchError:
    return PatchError(f"unknown patch type: {go_value(directive)} in map: {go_value(patch)}")


MAP_TYPE = "map[string]interface {}"
SLICE_TYPE = "[]interface {}"


def strategic_merge_patch(
    original: Obj,
    patch: Obj,
    schema: schemas.Node | None,
    resolver: schemas.Resolver | None = None,
    *,
    consume_original: bool = False,
    consume_patch: bool = False,
) -> Obj:
    """``original`` with ``patch`` applied. Neither is modified unless the caller gives it
    up (``consume_original``, ``consume_patch``: a value of its own, such as a freshly
    decoded patch): then it is merged as it is, not copied, and left changed."""
    merger = _Merger(resolver or schemas.builtin_resolver())
    return merger.merge_map(
        original if consume_original else _json_copy(original),
        patch if consume_patch else _json_copy(patch),
        schema,
    )


def _json_copy(value: Obj) -> Obj:
    """A deep copy of JSON, without ``copy.deepcopy``'s memo (as large as the copy)."""
    copied: Obj = orjson.loads(orjson.dumps(value))
    return copied


def _kind(value: Any) -> str:
    """The Go type a JSON value decodes to (numbers are all float64)."""
    if isinstance(value, dict):
        return "map"
    if isinstance(value, list):
        return "slice"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "float64"
    if isinstance(value, str):
        return "string"
    return "nil"


def go_equal(left: Any, right: Any) -> bool:
    """Go's ``==`` on two ``interface{}`` holding decoded JSON scalars."""
    return _kind(left) == _kind(right) and left == right


def _key_value(item: Obj, merge_key: str) -> Any:
    return item.get(merge_key)


def extract_key(key: str, prefix: str) -> str:
    head, sep, rest = key.partition("/")
    if not sep or head != prefix:
        if prefix == DELETE_FROM_PRIMITIVE_LIST:
            raise bad_format_primitive_list()
        if prefix == SET_ELEMENT_ORDER:
            raise bad_format_set_element_order()
        raise PatchError(f'fail to find unknown prefix "{prefix}" in {key}')
    return rest


def remove_directives(value: Any) -> tuple[Any, bool]:
    """``value`` without the objects carrying ``$patch``, and whether to keep it at all."""
    if isinstance(value, dict):
        if DIRECTIVE in value:
            return None, False
        for k in list(value):
            kept, keep = remove_directives(value[k])
            if keep:
                value[k] = kept
            else:
                del value[k]
        return value, True
    if isinstance(value, list):
        out = []
        for item in value:
            kept, keep = remove_directives(item)
            if keep:
                out.append(kept)
        return out, True
    return value, True


def discard_nulls(value: Any) -> None:
    if isinstance(value, dict):
        for k in list(value):
            if value[k] is None:
                del value[k]
            else:
                discard_nulls(value[k])
    elif isinstance(value, list):
        for item in value:
            discard_nulls(item)


def retain_keys_strategy(strategies: tuple[str, ...]) -> tuple[bool, str]:
    """(has retainKeys, the other strategy) from a field's strategies."""
    if not strategies:
        return False, ""
    if len(strategies) == 1:
        if strategies[0] == RETAIN_KEYS_STRATEGY:
            return True, ""
        return False, strategies[0]
    if len(strategies) == 2 and RETAIN_KEYS_STRATEGY in strategies:
        other = strategies[1] if strategies[0] == RETAIN_KEYS_STRATEGY else strategies[0]
        return True, other
    raise PatchError(f"unexpected patch strategy: [{' '.join(strategies)}]")


def slice_element_kind(*slices: list[Any]) -> str:
    previous = ""
    for items in slices:
        for item in items:
            current = _kind(item)
            if not previous:
                previous = current
                if current == "slice":
                    raise no_list_of_lists()
            elif previous != current:
                shown = "[" + " ".join(go_value(s) for s in slices) + "]"
                raise PatchError(f"list element types are not identical: {shown}")
    if not previous:
        raise PatchError("no elements in any of the given slices")
    return previous


def _find(items: list[Any], merge_key: str, wanted: Any) -> int:
    """The position of the first object whose merge key equals ``wanted``, or -1."""
    for position, item in enumerate(items):
        if not isinstance(item, dict):
            raise PatchError(f"value for key {position} is not a map")
        if merge_key in item and go_equal(item[merge_key], wanted):
            return position
    return -1


def _index(items: list[Any], item: Any, merge_key: str, kind: str) -> int:
    def value_of(entry: Any) -> Any:
        if kind == "map":
            return entry.get(merge_key) if isinstance(entry, dict) else None
        return entry

    wanted = value_of(item)
    for position, entry in enumerate(items):
        if go_equal(value_of(entry), wanted):
            return position
    return -1


class _Merger:
    def __init__(self, resolver: schemas.Resolver) -> None:
        self.resolver = resolver

    # --- maps ---------------------------------------------------------------------

    def merge_map(self, original: Obj | None, patch: Obj, schema: schemas.Node | None) -> Obj:
        if DIRECTIVE in patch:
            return self._map_directive(patch[DIRECTIVE], patch)
        if original is None:
            original = {}
        self._retain_keys(original, patch)
        self._set_element_order(original, patch, schema)
        for key, patch_value in list(patch.items()):
            is_delete_list = False
            if key.startswith(DELETE_FROM_PRIMITIVE_LIST):
                key = extract_key(key, DELETE_FROM_PRIMITIVE_LIST)
                is_delete_list = True
            if patch_value is None:
                original.pop(key, None)
                continue
            if key not in original or _kind(original[key]) != _kind(patch_value):
                if not is_delete_list:
                    discard_nulls(patch_value)
                    kept, keep = remove_directives(patch_value)
                    if keep:
                        original[key] = kept
                    else:
                        original.pop(key, None)
                continue
            current = original[key]
            if isinstance(current, dict):
                meta = schemas.lookup_map(schema, key, self.resolver)
                _, strategy = retain_keys_strategy(meta.strategies)
                original[key] = (
                    patch_value
                    if strategy == REPLACE
                    else self.merge_map(current, patch_value, meta.schema)
                )
            elif isinstance(current, list):
                meta = schemas.lookup_list(schema, key, self.resolver)
                _, strategy = retain_keys_strategy(meta.strategies)
                original[key] = self._merge_slice_handler(
                    current, patch_value, meta, strategy, is_delete_list
                )
            else:
                kept, keep = remove_directives(patch_value)
                if keep:
                    original[key] = kept
                else:
                    original.pop(key, None)
        return original

    @staticmethod
    def _map_directive(directive: Any, patch: Obj) -> Obj:
        if go_equal(directive, REPLACE):
            del patch[DIRECTIVE]
            return patch
        if go_equal(directive, DELETE):
            return {}
        raise bad_patch_type(directive, patch)

    @staticmethod
    def _retain_keys(original: Obj, patch: Obj) -> None:
        if RETAIN_KEYS not in patch:
            return
        retained = patch.pop(RETAIN_KEYS)
        if not isinstance(retained, list):
            raise bad_format_retain_keys()
        allowed = [k for k in retained if isinstance(k, str)]
        for key, value in patch.items():
            if value is None or key.startswith((DELETE_FROM_PRIMITIVE_LIST, SET_ELEMENT_ORDER)):
                continue
            if key not in allowed:
                raise bad_format_retain_keys()
        for key in list(original):
            if key not in allowed:
                del original[key]

    def _set_element_order(self, original: Obj, patch: Obj, schema: schemas.Node | None) -> None:
        for key in list(patch):
            if not key.startswith(SET_ELEMENT_ORDER):
                continue
            order = patch.pop(key)
            if not isinstance(order, list):
                raise bad_arg_type(SLICE_TYPE, order)
            list_key = extract_key(key, SET_ELEMENT_ORDER)
            found_original = list_key in original
            found_patch = list_key in patch
            original_list: list[Any] = []
            patch_list: list[Any] = []
            if found_original:
                if not isinstance(original[list_key], list):
                    raise bad_arg_type(SLICE_TYPE, original[list_key])
                original_list = original[list_key]
            if found_patch:
                if not isinstance(patch[list_key], list):
                    raise bad_arg_type(SLICE_TYPE, patch[list_key])
                patch_list = patch[list_key]
            meta = schemas.lookup_list(schema, list_key, self.resolver)
            _, strategy = retain_keys_strategy(meta.strategies)
            _validate_set_order(patch_list, order, meta.merge_key)
            if found_original and not found_patch:
                merged = original_list
            elif found_patch and not found_original:
                merged, _ = remove_directives(patch_list)
            elif found_original and found_patch:
                merged = self._merge_slice_handler(original_list, patch_list, meta, strategy, False)
            else:
                continue
            if meta.merge_key:
                patch_items, server_only = _partition_maps(merged, order, meta.merge_key)
            else:
                patch_items, server_only = _partition_scalars(merged, order)
            kind = slice_element_kind(original_list, patch_list)
            original[list_key] = _normalize_element_order(
                patch_items, server_only, order, original_list, meta.merge_key, kind
            )
            patch.pop(list_key, None)

    # --- lists --------------------------------------------------------------------

    def _merge_slice_handler(
        self,
        original: list[Any],
        patch: Any,
        meta: schemas.PatchMeta,
        strategy: str,
        is_delete_list: bool,
    ) -> list[Any]:
        if not isinstance(patch, list):
            raise bad_arg_type(SLICE_TYPE, patch)
        if strategy == MERGE or is_delete_list:
            return self._merge_slice(original, patch, meta, is_delete_list)
        return patch

    def _merge_slice(
        self, original: list[Any], patch: list[Any], meta: schemas.PatchMeta, is_delete_list: bool
    ) -> list[Any]:
        if not original and not patch:
            return original
        kind = slice_element_kind(original, patch)
        merge_key = meta.merge_key
        if kind != "map":
            if is_delete_list:
                return [v for v in original if not any(go_equal(v, d) for d in patch)]
            merged: list[Any] = []
            for item in original + patch:
                if not any(go_equal(item, seen) for seen in merged):
                    merged.append(item)
        else:
            if not merge_key:
                name = str((meta.schema or {}).get("$name", "")) or "map"
                raise PatchError(f"cannot merge lists without merge key for {name}")
            original, patch = _merge_special_elements(original, patch, merge_key)
            merged = self._merge_plain_elements(original, patch, merge_key, meta.schema)
        if merge_key:
            patch_items, server_only = _partition_maps(merged, patch, merge_key)
        else:
            patch_items, server_only = _partition_scalars(merged, patch)
        return _normalize_element_order(patch_items, server_only, patch, original, merge_key, kind)

    def _merge_plain_elements(
        self,
        original: list[Any],
        patch: list[Any],
        merge_key: str,
        schema: schemas.Node | None,
    ) -> list[Any]:
        original = list(original)  # the caller keeps the original order for sorting
        for item in patch:
            if merge_key not in item:
                raise no_merge_key(item, merge_key)
            position = _find(original, merge_key, item[merge_key])
            if position >= 0:
                original[position] = self.merge_map(original[position], item, schema)
            else:
                original.append(item)
        return original


def _merge_special_elements(
    original: list[Any], patch: list[Any], merge_key: str
) -> tuple[list[Any], list[Any]]:
    """Apply the ``$patch`` items of a merged list: delete matching items, or replace the
    whole list with the patch's other items."""
    plain: list[Any] = []
    replace = False
    for item in patch:
        directive = item.get(DIRECTIVE, _MISSING)
        if directive is _MISSING:
            plain.append(item)
        elif go_equal(directive, DELETE):
            if merge_key not in item:
                raise no_merge_key(item, merge_key)
            wanted = item[merge_key]
            while (position := _find(original, merge_key, wanted)) >= 0:
                original = original[:position] + original[position + 1 :]
        elif go_equal(directive, REPLACE):
            replace = True
        elif go_equal(directive, MERGE):
            raise PatchError("merging lists cannot yet be specified in the patch")
        else:
            raise bad_patch_type(directive, item)
    if replace:
        return plain, []
    return original, plain


_MISSING = object()


def _partition_maps(
    merged: list[Any], partition_by: list[Any], merge_key: str
) -> tuple[list[Any], list[Any]]:
    in_patch: list[Any] = []
    server_only: list[Any] = []
    for item in merged:
        if not isinstance(item, dict):
            raise bad_arg_type(MAP_TYPE, item)
        if merge_key not in item:
            raise no_merge_key(item, merge_key)
        if _find(partition_by, merge_key, item[merge_key]) >= 0:
            in_patch.append(item)
        else:
            server_only.append(item)
    return in_patch, server_only


def _partition_scalars(merged: list[Any], partition_by: list[Any]) -> tuple[list[Any], list[Any]]:
    in_patch: list[Any] = []
    server_only: list[Any] = []
    for item in merged:
        if any(go_equal(item, p) for p in partition_by):
            in_patch.append(item)
        else:
            server_only.append(item)
    return in_patch, server_only


def _validate_set_order(patch_list: list[Any], order: list[Any], merge_key: str) -> None:
    """The patch's items must appear in ``$setElementOrder`` in the same relative order."""
    if not order or not patch_list:
        return
    items = patch_list
    if merge_key:
        items = []
        for item in patch_list:
            if not isinstance(item, dict):
                raise bad_arg_type(MAP_TYPE, item)
            if not go_equal(item.get(DIRECTIVE), DELETE):
                items.append(item)
    i = j = 0
    while i < len(items) and j < len(order):
        item = items[i]
        if isinstance(item, dict) and DIRECTIVE in item:
            i += 1
            continue
        if merge_key:
            if not isinstance(item, dict):
                raise bad_arg_type(MAP_TYPE, item)
            if not isinstance(order[j], dict):
                raise bad_arg_type(MAP_TYPE, order[j])
            if merge_key not in item:
                raise no_merge_key(item, merge_key)
            if merge_key not in order[j]:
                raise no_merge_key(order[j], merge_key)
            same = go_equal(item[merge_key], order[j][merge_key])
        else:
            same = go_equal(item, order[j])
        if same:
            i += 1
        j += 1
    if i < len(items) and j >= len(order):
        raise PatchError(
            f"The order in patch list:\n{go_value(patch_list)}\n doesn't match "
            f"{SET_ELEMENT_ORDER} list:\n{go_value(order)}"
        )


def _normalize_slice_order(
    to_sort: list[Any], order: list[Any], merge_key: str, kind: str
) -> list[Any]:
    deleted: list[Any] = []
    if kind == "map":
        for items in (to_sort, order):
            for item in items:
                if not isinstance(item, dict):
                    raise bad_arg_type(MAP_TYPE, item)
                if merge_key not in item:
                    raise no_merge_key(item, merge_key)
        kept: list[Any] = []
        for item in to_sort:
            (deleted if go_equal(item.get(DIRECTIVE), DELETE) else kept).append(item)
        to_sort = kept
    positions = [_index(order, item, merge_key, kind) for item in to_sort]

    # Go's sort.SliceStable on short slices is an insertion sort; the comparator answers
    # "less" whenever either item is missing from ``order``, which only an insertion sort
    # reproduces item for item.
    items = list(zip(positions, to_sort, strict=True))
    for i in range(1, len(items)):
        j = i
        while j > 0:
            left, right = items[j][0], items[j - 1][0]
            less = left < right if left >= 0 and right >= 0 else True
            if not less:
                break
            items[j], items[j - 1] = items[j - 1], items[j]
            j -= 1
    return [item for _, item in items] + deleted


def _normalize_element_order(
    patch_items: list[Any],
    server_only: list[Any],
    patch_order: list[Any],
    server_order: list[Any],
    merge_key: str,
    kind: str,
) -> list[Any]:
    """Patch items in the patch's order, server-only items in the original's, then the
    server-only items interleaved where the original had them."""
    patch_items = _normalize_slice_order(patch_items, patch_order, merge_key, kind)
    server_only = _normalize_slice_order(server_only, server_order, merge_key, kind)
    out: list[Any] = []
    i = j = 0
    while i < len(server_only) and j < len(patch_items):
        left = _index(server_order, server_only[i], merge_key, kind)
        right = _index(server_order, patch_items[j], merge_key, kind)
        if left >= 0 and right >= 0 and left < right:
            out.append(server_only[i])
            i += 1
        else:
            out.append(patch_items[j])
            j += 1
    return out + server_only[i:] + patch_items[j:]
