"""Cost of a checked expression in CEL's cost units, as cel-go's estimator counts them
(checker/cost.go) with kube's function costs (k8s.io/apiserver/pkg/cel/library/cost.go).

cel-cpp has no cost model, so kapi walks the checked AST itself. Each identifier and
field selection costs 1, a constant 0, a list literal 10 and a map literal 30; a call
costs its arguments plus the function's own cost, which is 1 for O(1) functions and
proportional to the sizes involved for the rest (string traversal 0.1 per character,
regex 0.25 per pattern character times the text, ``in`` over a list its length);
a comprehension costs its range plus, per element, its condition and step. ``&&`` and
``||`` may short-circuit (min: left side only), ``?:`` takes the dearer branch.

Sizes come from a ``Sizer``: the path of an expression (``self.spec.items.@items.name``)
mapped to how many elements it may hold. At compile time that is the schema's bound
(``maxItems``, ``maxLength``, else what fits in a request): the static estimate kube
checks against ``StaticEstimatedCostLimit``. At run time kapi passes a ``Sizer`` reading
the object itself, which gives the cost of this evaluation with actual sizes in place
of bounds: kapi's stand-in for cel-go's runtime cost tracking (see ``runtime``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

U64 = 2**64 - 1
STRING_TRAVERSAL = 0.1
REGEX_LENGTH = 0.25
LIST_BASE, MAP_BASE, STRUCT_BASE = 10, 30, 40


def _sat(v: int) -> int:
    return U64 if v > U64 else v


@dataclass(frozen=True)
class Estimate:
    """A [min, max] range of sizes or costs, saturating at 2^64-1 as cel-go's uint64."""

    min: int
    max: int

    def add(self, o: Estimate) -> Estimate:
        return Estimate(_sat(self.min + o.min), _sat(self.max + o.max))

    def mul(self, o: Estimate) -> Estimate:
        return Estimate(_sat(self.min * o.min), _sat(self.max * o.max))

    def factor(self, f: float) -> Estimate:
        return Estimate(_sat(math.ceil(self.min * f)), _sat(math.ceil(self.max * f)))

    def union(self, o: Estimate) -> Estimate:
        return Estimate(min(self.min, o.min), max(self.max, o.max))


ZERO = Estimate(0, 0)
ONE = Estimate(1, 1)
UNKNOWN = Estimate(0, U64)

# A path (``["self", "spec", "items", "@items"]``) → the size of what it names, or None.
Sizer = Callable[[Sequence[str]], Estimate | None]

_LIST_FUNCS = {"isSorted", "sum", "max", "min", "indexOf", "lastIndexOf"}
_TRAVERSE_TARGET = {"lowerAscii", "upperAscii", "substring", "trim", "charAt", "reverse"}
_TRAVERSE_ARG = {
    "url",
    "isURL",
    "quantity",
    "isQuantity",
    "ip",
    "isIP",
    "cidr",
    "isCIDR",
    "ip.isCanonical",
}
_COMPARE = {
    "less_string", "greater_string", "less_equals_string", "greater_equals_string",
    "less_bytes", "greater_bytes", "less_equals_bytes", "greater_equals_bytes",
    "equals", "not_equals",
}  # fmt: skip


# The longest text of a printed bool, int, uint and double.
_PRINTED_SIZE = {1: 5, 2: 20, 3: 20, 4: 32}


class _Coster:
    def __init__(self, checked: Any, sizer: Sizer) -> None:
        self.refs = checked.reference_map
        self.types = checked.type_map
        self.sizer = sizer
        self.paths: dict[int, list[str]] = {}
        self.sizes: dict[int, Estimate] = {}
        self.elem_sizes: dict[int, Estimate] = {}
        self.locals: dict[str, list[tuple[list[str], Estimate | None]]] = {}

    # --- sizes -----------------------------------------------------------------
    def size(self, e: Any) -> Estimate:
        if e.id in self.sizes:
            return self.sizes[e.id]
        kind = e.WhichOneof("expr_kind")
        if kind == "const_expr":
            c = e.const_expr
            which = c.WhichOneof("constant_kind")
            if which == "string_value":
                return Estimate(len(c.string_value), len(c.string_value))
            if which == "bytes_value":
                return Estimate(len(c.bytes_value), len(c.bytes_value))
            return ONE
        if kind == "list_expr":
            n = len(e.list_expr.elements)
            return Estimate(n, n)
        if kind == "struct_expr":
            n = len(e.struct_expr.entries)
            return Estimate(n, n)
        if kind == "ident_expr":
            stack = self.locals.get(e.ident_expr.name)
            if stack and stack[-1][1] is not None:
                return stack[-1][1]
        path = self.paths.get(e.id)
        if path:
            found = self.sizer(path)
            if found is not None:
                return found
        t = self.types.get(e.id)
        if t is not None and t.WhichOneof("type_kind") == "type":
            return ONE
        if t is not None and (
            t.WhichOneof("type_kind") == "well_known"
            or (t.WhichOneof("type_kind") == "primitive" and t.primitive in (1, 2, 3, 4))
        ):
            return ONE
        return UNKNOWN

    def elem_size(self, e: Any) -> Estimate | None:
        if e.id in self.elem_sizes:
            return self.elem_sizes[e.id]
        path = self.paths.get(e.id)
        if path:
            return self.sizer([*path, "@items"])
        return None

    # --- costs -----------------------------------------------------------------
    def cost(self, e: Any) -> Estimate:
        kind = e.WhichOneof("expr_kind")
        if kind == "const_expr":
            return ZERO
        if kind == "ident_expr":
            name = e.ident_expr.name
            stack = self.locals.get(name)
            self.paths[e.id] = list(stack[-1][0]) if stack else [name]
            return ONE
        if kind == "select_expr":
            sel = e.select_expr
            if sel.test_only:
                return ONE.add(self.cost(sel.operand))
            total = self.cost(sel.operand)
            operand_type = self.types.get(sel.operand.id)
            if operand_type is None or operand_type.WhichOneof("type_kind") in (
                "map_type", "message_type", "dyn", "type_param",
            ):  # fmt: skip
                total = total.add(ONE)
            base = self.paths.get(sel.operand.id)
            if base is not None:
                self.paths[e.id] = [*base, sel.field]
            return total
        if kind == "call_expr":
            return self.call(e)
        if kind == "list_expr":
            total = ZERO
            for item in e.list_expr.elements:
                total = total.add(self.cost(item))
            return total.add(Estimate(LIST_BASE, LIST_BASE))
        if kind == "struct_expr":
            total = ZERO
            for entry in e.struct_expr.entries:
                if entry.WhichOneof("key_kind") == "map_key":
                    total = total.add(self.cost(entry.map_key))
                total = total.add(self.cost(entry.value))
            base_cost = STRUCT_BASE if e.struct_expr.message_name else MAP_BASE
            return total.add(Estimate(base_cost, base_cost))
        if kind == "comprehension_expr":
            return self.comprehension(e)
        return ZERO

    def comprehension(self, e: Any) -> Estimate:
        c = e.comprehension_expr
        total = self.cost(c.iter_range).add(self.cost(c.accu_init))
        bind = (
            c.iter_range.WhichOneof("expr_kind") == "list_expr"
            and not c.iter_range.list_expr.elements
            and c.accu_var != "@result"
            and c.accu_var != "__result__"
        )
        self.locals.setdefault(c.accu_var, []).append(
            (self.paths.get(c.accu_init.id, [c.accu_var]), self.size(c.accu_init))
        )
        if bind:
            total = total.add(self.cost(c.result))
            self.locals[c.accu_var].pop()
            self.sizes[e.id] = self.size(c.result)
            return total
        range_path = self.paths.get(c.iter_range.id)
        range_type = self.types.get(c.iter_range.id)
        is_map = range_type is not None and range_type.WhichOneof("type_kind") == "map_type"
        sub = "@keys" if is_map else "@items"
        item_size = self.elem_size(c.iter_range) if not is_map else None
        vars_ = [c.iter_var] + ([c.iter_var2] if c.iter_var2 else [])
        for i, var in enumerate(vars_):
            if len(vars_) == 2 and i == 0:
                path, size = [*(range_path or [var]), "@keys" if is_map else "@indices"], None
            else:
                path = [*(range_path or [var]), "@values" if (is_map and len(vars_) == 2) else sub]
                size = item_size
            self.locals.setdefault(var, []).append((path, size))
        loop = self.cost(c.loop_condition).add(self.cost(c.loop_step))
        for var in vars_:
            self.locals[var].pop()
        total = total.add(self.cost(c.result))
        self.locals[c.accu_var].pop()
        count = self.size(c.iter_range)
        total = total.add(count.mul(loop))
        if c.accu_init.WhichOneof("expr_kind") in ("list_expr", "struct_expr"):
            self.sizes[e.id] = count
        return total

    def call(self, e: Any) -> Estimate:
        call = e.call_expr
        fn = call.function
        args = list(call.args)
        if fn == "dyn" and len(args) == 1:
            c = ONE.add(self.cost(args[0]))
            self.sizes[e.id] = self.size(args[0])
            if args[0].id in self.paths:
                self.paths[e.id] = self.paths[args[0].id]
            return c
        target = call.target if call.HasField("target") else None
        arg_costs = [self.cost(a) for a in args]
        total = self.cost(target) if target is not None else ZERO
        ref = self.refs.get(e.id)
        overloads = list(ref.overload_id) if ref is not None else []
        if fn in ("_[_]", "_[?_]", "_?._") and args:
            base = self.paths.get(args[0].id)
            if base is not None:
                t = self.types.get(args[0].id)
                is_map = t is not None and t.WhichOneof("type_kind") == "map_type"
                if fn == "_?._":
                    field = args[1].const_expr.string_value if len(args) > 1 else ""
                    self.paths[e.id] = [*base, field]
                else:
                    self.paths[e.id] = [*base, "@values" if is_map else "@items"]
        if fn in ("orValue", "value") and target is not None and target.id in self.paths:
            # An optional's value is the value its selection reached (``x.?f.orValue(d)``).
            self.paths[e.id] = self.paths[target.id]
        if fn == "string" and len(args) == 1:
            # kapi's bound on printed scalars; a dyn argument the schema sizes at 0 is a
            # scalar field (kube sizes scalars 0), a string one keeps its own size.
            t = self.types.get(args[0].id)
            kind = t.WhichOneof("type_kind") if t is not None else None
            if kind == "primitive" and t.primitive in _PRINTED_SIZE:
                self.sizes[e.id] = Estimate(1, _PRINTED_SIZE[t.primitive])
            elif kind == "dyn":
                arg_size = self.size(args[0])
                self.sizes[e.id] = Estimate(1, 32) if arg_size.max == 0 else arg_size
        fn_cost: Estimate | None = None
        for overload in overloads or [""]:
            one = self.function(e, fn, overload, target, args, arg_costs)
            fn_cost = one if fn_cost is None else fn_cost.union(one)
        return total.add(fn_cost or ZERO)

    def function(
        self,
        e: Any,
        fn: str,
        overload: str,
        target: Any,
        args: list[Any],
        arg_costs: list[Estimate],
    ) -> Estimate:
        arg_sum = ZERO
        for c in arg_costs:
            arg_sum = arg_sum.add(c)
        if overload in ("logical_and", "logical_or") or fn in ("_&&_", "_||_"):
            lhs, rhs = arg_costs[0], arg_costs[1]
            return Estimate(lhs.min, lhs.add(rhs).max)
        if overload == "conditional" or fn == "_?_:_":
            self.sizes[e.id] = self.size(args[1]).union(self.size(args[2]))
            return arg_costs[0].add(arg_costs[1].union(arg_costs[2]))
        kube = self.kube_function(e, fn, target, args)
        if kube is not None:
            return kube.add(arg_sum)
        if overload in ("starts_with_string", "ends_with_string") and args:
            return self.size(args[0]).factor(STRING_TRAVERSAL).add(arg_sum)
        if overload in ("string_to_bytes", "bytes_to_string") and args:
            return self.size(args[0]).factor(STRING_TRAVERSAL).add(arg_sum)
        if overload == "in_list" and len(args) == 2:
            return self.size(args[1]).add(arg_sum)
        if overload in ("matches_string", "matches") or fn == "matches":
            text, pattern = (target, args[0]) if target is not None else (args[0], args[1])
            str_cost = self.size(text).add(ONE).factor(STRING_TRAVERSAL)
            return str_cost.mul(self.size(pattern).factor(REGEX_LENGTH)).add(arg_sum)
        if overload == "contains_string" and target is not None:
            a = self.size(target).factor(STRING_TRAVERSAL)
            return a.mul(self.size(args[0]).factor(STRING_TRAVERSAL)).add(arg_sum)
        if overload in ("add_string", "add_bytes", "add_list") and len(args) == 2:
            result = self.size(args[0]).add(self.size(args[1]))
            self.sizes[e.id] = result
            if overload == "add_list":
                return ONE.add(arg_sum)
            return result.factor(STRING_TRAVERSAL).add(arg_sum)
        if overload in _COMPARE and len(args) == 2:
            smallest = min(self.size(args[0]).max, self.size(args[1]).max)
            return (
                Estimate(1 if smallest > 0 else 0, smallest).factor(STRING_TRAVERSAL).add(arg_sum)
            )
        return ONE.add(arg_sum)

    def kube_function(self, e: Any, fn: str, target: Any, args: list[Any]) -> Estimate | None:
        """kube's ``CostEstimator.EstimateCallCost`` for its libraries and the strings extension."""
        if fn in _LIST_FUNCS and target is not None:
            t = self.types.get(target.id)
            if t is not None and t.WhichOneof("type_kind") == "list_type":
                element = ONE
                elem_t = t.list_type.elem_type
                if elem_t.WhichOneof("type_kind") == "primitive" and elem_t.primitive in (5, 6):
                    element = element.add(self._elem_or_unknown(target).factor(STRING_TRAVERSAL))
                return self.size(target).mul(element)
            return self.size(target).factor(STRING_TRAVERSAL)  # strings indexOf/lastIndexOf
        if fn in _TRAVERSE_TARGET and target is not None:
            size = self.size(target)
            self.sizes[e.id] = size
            return size.factor(STRING_TRAVERSAL)
        if fn in _TRAVERSE_ARG and args and target is None:
            return self.size(args[0]).factor(STRING_TRAVERSAL)
        if fn == "replace" and target is not None:
            size = self.size(target)
            self.sizes[e.id] = (
                UNKNOWN if len(args) < 2 else Estimate(0, size.max * max(self.size(args[1]).max, 1))
            )
            return size.factor(2 * STRING_TRAVERSAL)
        if fn == "split" and target is not None:
            size = self.size(target)
            self.sizes[e.id] = Estimate(0, size.max)
            return size.factor(2 * STRING_TRAVERSAL)
        if fn == "join" and target is not None:
            size = self.size(target).mul(self._elem_or_unknown(target))
            self.sizes[e.id] = size
            return size.factor(2 * STRING_TRAVERSAL)
        if fn in ("find", "findAll") and target is not None and args:
            size = self.size(target)
            str_cost = size.add(ONE).factor(STRING_TRAVERSAL)
            self.sizes[e.id] = Estimate(0, size.max)
            return str_cost.mul(self.size(args[0]).factor(REGEX_LENGTH))
        if fn in ("sets.contains", "sets.intersects", "sets.equivalent") and len(args) == 2:
            return self.size(args[0]).mul(self.size(args[1]))
        return None

    def _elem_or_unknown(self, e: Any) -> Estimate:
        return self.elem_size(e) or UNKNOWN


def estimate(checked: Any, sizer: Sizer) -> Estimate:
    """The cost range of a checked expression (``kapi.cel.checked.parse``)."""
    return _Coster(checked, sizer).cost(checked.expr)
