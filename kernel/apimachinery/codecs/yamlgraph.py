"""Limits on a composed YAML document before it is built: alias expansion, depth, self-reference.

PyYAML composes aliases as shared nodes, so composing is cheap; the cost comes when the document
is turned into JSON values, where every alias is a full copy. A few hundred bytes of nested
aliases ("billion laughs") expand to billions of nodes. kube's YAML decoder (go-yaml v2 under
sigs.k8s.io/yaml) counts the nodes it decodes and those it decodes inside aliases, and fails with
"document contains excessive aliasing" when aliases make up too much of a large enough document.
``check`` computes the same counts on the node graph in linear time, without expanding anything.
"""

from __future__ import annotations

import re

import yaml

from ..depth import MAX_DEPTH, too_deep_message

# go-yaml v2's allowance (decode.go allowedAliasRatio): up to 99% of decoded nodes may come from
# aliases in documents of up to 400k nodes, scaling down to 10% at 4M.
_RATIO_LOW, _RATIO_HIGH = 400_000, 4_000_000
_ANCHOR = re.compile(r"(?:!\S*\s+)?&([^\s,\[\]{}]+)")


class GraphError(ValueError):
    """A YAML document kube refuses; the message is go-yaml's, without its ``yaml: `` prefix."""


def _allowed_ratio(decoded: int) -> float:
    if decoded <= _RATIO_LOW:
        return 0.99
    if decoded >= _RATIO_HIGH:
        return 0.10
    return 0.99 - 0.89 * (decoded - _RATIO_LOW) / (_RATIO_HIGH - _RATIO_LOW)


def _excessive(decoded: int, aliased: int) -> bool:
    return aliased > 100 and decoded > 1000 and aliased / decoded > _allowed_ratio(decoded)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [child for pair in node.value for child in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def check(root: yaml.Node, text: str) -> None:
    """Raise GraphError if ``root`` expands past go-yaml's alias allowance, nests deeper than
    MAX_DEPTH once expanded, or contains itself through an alias. ``text`` (the body) names the
    anchor in that last error."""
    # Walk the document in go-yaml's decoding order, entering each node once (its definition);
    # a node met again is an alias, whose expanded size is known because anchors precede aliases.
    size: dict[int, int] = {}  # node -> nodes decoding it takes, aliases expanded
    height: dict[int, int] = {}  # node -> nesting depth once expanded (a scalar is 0)
    decoded = aliased = 0
    # frames: [node, children, next child index, size so far, deepest child so far]
    stack: list[list] = []
    in_progress: set[int] = set()

    def enter(node: yaml.Node) -> None:
        nonlocal decoded
        decoded += 1
        children = _children(node)
        if not children:
            size[id(node)] = 1
            height[id(node)] = 1 if isinstance(node, yaml.CollectionNode) else 0
            return
        if len(stack) >= MAX_DEPTH:
            raise GraphError(too_deep_message())
        in_progress.add(id(node))
        stack.append([node, children, 0, 1, 0])

    enter(root)
    while stack:
        frame = stack[-1]
        node, children, index = frame[0], frame[1], frame[2]
        if index == len(children):
            stack.pop()
            in_progress.discard(id(node))
            size[id(node)], height[id(node)] = frame[3], frame[4] + 1
            if stack:
                stack[-1][3] += frame[3]
                stack[-1][4] = max(stack[-1][4], frame[4] + 1)
            continue
        frame[2] += 1
        child = children[index]
        if id(child) in in_progress:
            raise GraphError(f"anchor '{_anchor_name(child, text)}' value contains itself")
        if id(child) not in size:
            enter(child)
            if id(child) in size:  # a leaf: done at once
                frame[3] += 1
                frame[4] = max(frame[4], height[id(child)])
            continue
        # An alias: the alias node itself, then its target decoded again, inside the alias.
        expanded = size[id(child)]
        decoded += 1 + expanded
        aliased += expanded
        frame[3] += 1 + expanded
        frame[4] = max(frame[4], height[id(child)])
        if len(stack) + height[id(child)] > MAX_DEPTH:
            raise GraphError(too_deep_message())
        if _excessive(decoded, aliased):
            raise GraphError("document contains excessive aliasing")
    if height[id(root)] > MAX_DEPTH:
        raise GraphError(too_deep_message())
    if _excessive(decoded, aliased):  # the allowance shrinks as a large document goes on
        raise GraphError("document contains excessive aliasing")


def _anchor_name(node: yaml.Node, text: str) -> str:
    """Nodes do not keep their anchor; it is in the text where the node starts (libyaml's marks
    count characters), after an optional tag."""
    match = _ANCHOR.match(text, node.start_mark.index)
    return match.group(1) if match else ""
