"""The one YAML reading of a stack file: duplicate keys and aliases refused, JSON values only.

Pulumi reads stack files with Go's ``gopkg.in/yaml.v3``, which refuses a mapping key given twice
(``mapping key "x" already defined at line N``: decode.go:776 at v3.0.1, ``decoder.mapping``
with ``uniqueKeys`` on by default); PyYAML silently keeps the last one, so a
production file with a trailing ``environment: development`` would validate as development.
``StrictLoader`` refuses duplicates with the key and both lines. It also refuses aliases
(``*name``) outright: stack files have no need for them, and an alias bomb (nested aliases that
expand exponentially) then fails at the first alias instead of running for minutes.
"""

from __future__ import annotations

import contextlib
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode


class StrictLoader(yaml.SafeLoader):
    """``SafeLoader`` that refuses duplicate mapping keys and aliases."""

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None,
                None,
                f"the alias *{event.anchor} is not allowed in a stack file (write the value out)",
                event.start_mark,
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:
                first = None  # an unhashable key: the base class reports it
            line = key_node.start_mark.line + 1
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"mapping key {key!r} already defined at line {first}; a key may be given "
                    "once (Pulumi's YAML decoder refuses the file too)",
                    key_node.start_mark,
                )
            with contextlib.suppress(TypeError):  # unhashable: the base class reports it
                seen[key] = line
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node: ScalarNode) -> int:
        """An integer too long for Python's int() (over 4300 digits) is a YAML error with its
        line, not a ValueError from the constructor."""
        try:
            return super().construct_yaml_int(node)
        except ValueError:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"an integer of {len(str(node.value))} digits is no value a stack file needs",
                node.start_mark,
            ) from None


StrictLoader.add_constructor("tag:yaml.org,2002:int", StrictLoader.construct_yaml_int)


def load_strict(text: str) -> Any:
    return yaml.load(text, Loader=StrictLoader)
