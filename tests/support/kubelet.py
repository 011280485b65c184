"""The kubelet's ``$(VAR)`` expansion of container command, args and env values, for tests.

Follows kubernetes/kubernetes third_party/forked/golang/expansion/expand.go (``Expand``,
``tryReadVariableName``, ``MappingFuncFor``): ``$$`` becomes ``$``, ``$(NAME)`` becomes NAME's
value when the container defines NAME and stays as written otherwise, and anything else after a
``$`` is kept.
"""

from __future__ import annotations

from collections.abc import Callable


def expand(text: str, mapping: Callable[[str], str]) -> str:
    """The kubelet's expansion of ``text`` (expand.go ``Expand``)."""
    out: list[str] = []
    checkpoint = 0
    cursor = 0
    while cursor < len(text):
        if text[cursor] == "$" and cursor + 1 < len(text):
            out.append(text[checkpoint:cursor])
            nxt = text[cursor + 1]
            if nxt == "$":  # escaped operator
                out.append("$")
                advance = 1
            elif nxt == "(":
                close = text.find(")", cursor + 2)
                if close == -1:  # incomplete reference: kept
                    out.append("$(")
                    advance = 1
                else:
                    out.append(mapping(text[cursor + 2 : close]))
                    advance = close - cursor
            else:
                out.append("$" + nxt)
                advance = 1
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    return "".join(out) + text[checkpoint:]


def mapping_for(env: dict[str, str]) -> Callable[[str], str]:
    """expand.go ``MappingFuncFor``: a defined name gives its value, any other stays as written."""
    return lambda name: env.get(name, f"$({name})")
