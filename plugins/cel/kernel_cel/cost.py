"""Estimated cost of a checked expression: cel-go's checker/cost.go walk, with kube's library
estimates (library/costs.py) and sizes from the variables' schemas (kube's sizeEstimator over
DeclType paths: ``self.spec.items.@items.name``).

``SizeOf`` answers a path's size: from schema bounds at compile time, or bounded by the actual
values (``runtime_sizes``) for the runtime limit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .ast import Checked, Node, Type
from .costmath import MAX, STRING_TRAVERSAL as ST, REGEX_LENGTH, UNKNOWN, Est, add, factor, fixed, mul, total, union
from .library import costs

SizeOf = Callable[[list[str]], Est | None]
_ACCUMULATORS = ("__result__", "@result", "@__result__")
_SCALARS = ("bool", "double", "duration", "int", "timestamp", "uint")
_STRING_COMPARE = {"less_string", "greater_string", "less_equals_string", "greater_equals_string", "less_bytes",
                   "greater_bytes", "less_equals_bytes", "greater_equals_bytes", "equals", "not_equals"}


class Coster:
    def __init__(self, checked: Checked, size_of: SizeOf, presence_cost: int = 0,
                 unknown: Est = UNKNOWN) -> None:
        self.checked = checked
        self.size_of = size_of
        self.unknown = unknown  # a size nothing bounds: unknown, or the runtime bound
        self.presence = fixed(presence_cost)  # kube: PresenceTestHasCost(false)
        self.paths: dict[int, list[str]] = {}
        self.sizes: dict[int, Est] = {}
        self.entries: dict[int, tuple[str, Est, Est]] = {}  # container kind, key size, value size
        self.scopes: dict[str, list[tuple[list[str], Est | None, Any]]] = {}

    # -- sizes and paths ------------------------------------------------------------------
    def type_of(self, node: Node) -> Type:
        return self.checked.type_of(node)

    def path(self, node: Node) -> list[str]:
        if node.kind == "ident" and self.scopes.get(node.value):
            return list(self.scopes[node.value][-1][0])
        return list(self.paths.get(node.id, []))

    def compute_size(self, node: Node) -> Est | None:
        if node.id in self.sizes:
            return self.sizes[node.id]
        literal = _literal_size(node)
        if literal is not None:
            return literal
        path = self.path(node)
        if path and path[0] not in _ACCUMULATORS:
            size = self.size_of(path)
            if size is not None:
                self.sizes[node.id] = size
                return size
        if self.type_of(node).kind in _SCALARS:
            return fixed(1)
        if node.kind == "ident" and self.scopes.get(node.value) and self.scopes[node.value][-1][1] is not None:
            return self.scopes[node.value][-1][1]
        return None

    def size(self, part: Any) -> Est:
        """kube's sizeEstimate: a node's computed size, or an items path's, else unknown."""
        if isinstance(part, Node):
            size = self.compute_size(part)
        else:  # ("items", path)
            size = self.size_of(part[1]) if part[1] and part[1][0] not in _ACCUMULATORS else None
        return size if size is not None else self.unknown

    def entry(self, node: Node) -> tuple[str, Est, Est] | None:
        if node.id in self.entries:
            return self.entries[node.id]
        if node.kind == "ident" and self.scopes.get(node.value):
            return self.scopes[node.value][-1][2]
        return None

    def push(self, name: str, path: list[str], size: Est | None, entry: Any = None) -> None:
        self.scopes.setdefault(name, []).append((path, size, entry))

    def pop(self, name: str) -> None:
        if self.scopes.get(name):
            self.scopes[name].pop()

    # -- the walk -------------------------------------------------------------------------
    def cost(self, node: Node | None) -> Est:
        if node is None:
            return (0, 0)
        if node.kind == "literal":
            return (0, 0)
        if node.kind == "ident":
            self.paths[node.id] = self.path(node) if self.scopes.get(node.value) else [node.value]
            return fixed(1)
        if node.kind == "select":
            return self.cost_select(node)
        if node.kind == "call":
            return self.cost_call(node)
        if node.kind == "list":
            return self.cost_list(node)
        if node.kind == "map":
            return self.cost_map(node)
        if node.kind == "struct":
            return add(total([self.cost(c) for c in node.children]), fixed(40))
        if node.kind == "comprehension":
            return self.cost_bind(node) if _is_bind(node) else self.cost_comprehension(node)
        return (0, 0)

    def cost_select(self, node: Node) -> Est:
        operand = node.children[0]
        if node.test_only:
            return add(self.presence, self.cost(operand))
        out = self.cost(operand)
        if self.type_of(operand).kind in ("map", "struct", "type_param"):
            out = add(out, fixed(1))
        self.paths[node.id] = self.path(operand) + [node.value]
        return out

    def cost_call(self, node: Node) -> Est:
        if node.value == "dyn" and node.children:
            arg_cost = self.cost(node.children[0])
            self._copy_sizes(node, node.children[0])
            return add(fixed(1), arg_cost)
        arg_costs = [self.cost(a) for a in node.children]
        overloads = self.checked.overloads.get(node.id) or []
        if not overloads:
            return (0, 0)
        out: Est = (0, 0)
        if node.target is not None:
            out = self.cost(node.target)
        fn_cost: Est = (MAX, 0)
        result: Est | None = None
        for overload in overloads:
            cost, size = self.function_cost(node, overload, arg_costs)
            fn_cost = union(fn_cost, cost)
            if size is not None:
                result = size if result is None else union(result, size)
            if overload in ("index_list", "index_map") and node.children:
                entry = self.entry(node.children[0])
                result = entry[2] if entry else None
                suffix = "@items" if overload == "index_list" else "@values"
                self.paths[node.id] = self.path(node.children[0]) + [suffix]
            if result is None:
                result = self.compute_size(node)
        if result is not None:
            self.sizes[node.id] = result
        return add(out, fn_cost)

    def cost_list(self, node: Node) -> Est:
        out, item = (0, 0), ((MAX, 0) if node.children else (0, 0))
        for child in node.children:
            out = add(out, self.cost(child))
            item = union(item, self.size(child))
        self.entries[node.id] = ("list", fixed(1), item)
        return add(out, fixed(10))

    def cost_map(self, node: Node) -> Est:
        out = (0, 0)
        keys = values = (MAX, 0) if node.map_entries else (0, 0)
        for key, value in node.map_entries:
            out = add(add(out, self.cost(key)), self.cost(value))
            keys, values = union(keys, self.size(key)), union(values, self.size(value))
        self.entries[node.id] = ("map", keys, values)
        return add(out, fixed(30))

    def cost_comprehension(self, node: Node) -> Est:
        iter_range, accu_init, condition, step, result = node.children
        out = add(self.cost(iter_range), self.cost(accu_init))
        self.push(node.accu_var, self.path(accu_init), self.compute_size(accu_init), self.entry(accu_init))
        self._push_iteration(node, iter_range)
        loop = self.cost(condition)
        step_cost = self.cost(step)
        self.pop(node.iter_var)
        if node.iter_var2:
            self.pop(node.iter_var2)
        out = add(out, self.cost(result))
        self.pop(node.accu_var)
        count = self.size(iter_range)
        out = add(out, mul(count, add(step_cost, loop)))
        if accu_init.kind == "literal":
            size = self.compute_size(accu_init)
            if size is not None:
                self.sizes[node.id] = size
        elif accu_init.kind in ("list", "map"):
            self.sizes[node.id] = count
            step_entry = self.entry(step)
            if step_entry is not None:
                self.entries[node.id] = step_entry
        return out

    def _push_iteration(self, node: Node, iter_range: Node) -> None:
        entry = self.entry(iter_range)
        container = entry[0] if entry else self.type_of(iter_range).kind
        path = self.path(iter_range)
        if node.iter_var2:
            self.push(node.iter_var, path + ["@indices" if container == "list" else "@keys"], entry[1] if entry else None)
            self.push(node.iter_var2, path + ["@items" if container == "list" else "@values"], entry[2] if entry else None)
        elif container == "list":
            self.push(node.iter_var, path + ["@items"], entry[2] if entry else None)
        else:
            self.push(node.iter_var, path + ["@keys"], entry[1] if entry else None)

    def cost_bind(self, node: Node) -> Est:
        iter_range, accu_init, _, _, result = node.children
        out = add(self.cost(iter_range), self.cost(accu_init))
        self.push(node.accu_var, self.path(accu_init), self.compute_size(accu_init), self.entry(accu_init))
        out = add(out, self.cost(result))
        self.pop(node.accu_var)
        self._copy_sizes(node, result)
        return out

    def _copy_sizes(self, dst: Node, src: Node) -> None:
        size, entry = self.compute_size(src), self.entry(src)
        if size is not None:
            self.sizes[dst.id] = size
        if entry is not None:
            self.entries[dst.id] = entry

    def function_cost(self, node: Node, overload: str, arg_costs: list[Est]) -> tuple[Est, Est | None]:
        args_sum = total(arg_costs)
        kube = self._library(node, overload)
        if kube is not None:
            return add(kube[0], args_sum), kube[1]
        builtin = self._builtin(node, overload, arg_costs)
        if builtin is not None:
            return builtin
        return add(fixed(1), args_sum), None

    def _library(self, node: Node, overload: str) -> tuple[Est, Est | None] | None:
        if node.value == "_==_" and len(node.children) == 2:
            left, right = (self.type_of(c) for c in node.children)
            cost = costs.equality((left.kind, left.name), (right.kind, right.name), self.compute_size(node.children[1]))
            return (cost, None) if cost is not None else None
        element = None
        if node.target is not None and self.type_of(node.target).params:
            element_type = self.type_of(node.target).params[0]
            element = (("items", self.path(node.target) + ["@items"] if self.path(node.target) else []),
                       element_type.kind)
        return costs.estimate(node.value, overload, node.target, node.children, self.size, element,
                              lambda n: n.value if isinstance(n, Node) and n.kind == "literal" else None)

    def _builtin(self, node: Node, overload: str, arg_costs: list[Est]) -> tuple[Est, Est | None] | None:
        args, target, args_sum = node.children, node.target, total(arg_costs)
        if overload in ("string_format", "string_format_list") and target is not None:
            return add(factor(self.size(target), ST), args_sum), None
        if overload in ("string_to_bytes", "bytes_to_string", "strings_quote") and len(args) == 1:
            sz = self.size(args[0])
            result = {"string_to_bytes": (sz[0], min(sz[1] * 4, MAX)), "bytes_to_string": (sz[0] // 4, sz[1]),
                      "strings_quote": (min(sz[0] + 2, MAX), min(sz[1] * 2 + 2, MAX))}[overload]
            return add(factor(sz, ST), args_sum), result
        if overload in ("starts_with_string", "ends_with_string") and len(args) == 1:
            return add(factor(self.size(args[0]), ST), args_sum), None
        if overload == "in_list" and len(args) == 2:
            return add(factor(self.size(args[1]), 1), args_sum), None
        if overload == "matches_string" and target is not None and len(args) == 1:
            text = factor(add(self.size(target), fixed(1)), ST)
            return add(mul(text, factor(self.size(args[0]), REGEX_LENGTH)), args_sum), None
        if overload == "contains_string" and target is not None and len(args) == 1:
            return add(mul(factor(self.size(target), ST), factor(self.size(args[0]), ST)), args_sum), None
        if overload in ("logical_or", "logical_and"):
            return (arg_costs[0][0], add(arg_costs[0], arg_costs[1])[1]), None
        if overload == "conditional":
            return self._conditional(node, arg_costs)
        if overload in ("add_string", "add_bytes", "add_list") and len(args) == 2:
            return self._concat(node, overload, arg_costs)
        if overload in _STRING_COMPARE and len(args) == 2:
            smallest = min(self.size(args[0])[1], self.size(args[1])[1])
            return add(factor((1 if smallest > 0 else 0, smallest), ST), args_sum), None
        return None

    def _conditional(self, node: Node, arg_costs: list[Est]) -> tuple[Est, Est | None]:
        args = node.children
        size = union(self.size(args[1]), self.size(args[2]))
        first, second = self.entry(args[1]), self.entry(args[2])
        if first is not None and second is not None:
            self.entries[node.id] = (first[0], union(first[1], second[1]), union(first[2], second[2]))
        return add(arg_costs[0], union(arg_costs[1], arg_costs[2])), size

    def _concat(self, node: Node, overload: str, arg_costs: list[Est]) -> tuple[Est, Est | None]:
        args = node.children
        result = add(self.size(args[0]), self.size(args[1]))
        first, second = self.entry(args[0]), self.entry(args[1])
        if first is not None and second is not None:
            self.entries[node.id] = (first[0], union(first[1], second[1]), union(first[2], second[2]))
        if overload == "add_list":
            return add(fixed(1), total(arg_costs)), result
        return add(factor(result, ST), total(arg_costs)), result


def _literal_size(node: Node) -> Est | None:
    if node.kind == "literal":
        if isinstance(node.value, str):
            return fixed(len(node.value))
        if isinstance(node.value, bytes):
            return fixed(len(node.value))
        return fixed(1)
    if node.kind == "list":
        return fixed(len(node.children))
    if node.kind == "map":
        return fixed(len(node.map_entries))
    return None


def _is_bind(node: Node) -> bool:
    iter_range, _, condition, _, _ = node.children
    return (iter_range.kind == "list" and not iter_range.children and condition.kind == "literal"
            and condition.value is False and node.accu_var not in _ACCUMULATORS)


def estimate(checked: Checked, size_of: SizeOf, unknown: Est = UNKNOWN) -> Est:
    return Coster(checked, size_of, unknown=unknown).cost(checked.root)


def largest_literal(node: Node) -> int:
    """The longest string or bytes literal, or largest list/map literal, in the expression."""
    best, stack = 0, [node]
    while stack:
        item = stack.pop()
        size = _literal_size(item)
        if size is not None:
            best = max(best, size[1])
        stack.extend(item.children)
        stack.extend(x for pair in item.map_entries for x in pair)
        if item.target is not None:
            stack.append(item.target)
    return best
