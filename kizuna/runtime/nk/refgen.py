"""Writes docs/nk-reference.md, the reference of every `nk` call, from the code itself.

Each call's signature, docstring and result come from AsyncNk (the coroutines of `nk.aio`; the
blocking `nk.x()` has the same parameters and result), and the shapes of results from
kizuna/runtime/shapes.py, so the reference cannot drift from the code: a unit test fails when the
file is out of date.

    python -m kizuna.runtime.nk.refgen          # rewrite docs/nk-reference.md
    python -m kizuna.runtime.nk.refgen --check  # exit 1 if it is out of date
"""

from __future__ import annotations

import inspect
import re
import sys
import textwrap
import typing
from pathlib import Path
from typing import Any

from kizuna.runtime import shapes
from kizuna.runtime.nk.aio import AsyncNk
from kizuna.runtime.nk.bridge import coroutine_methods
from kizuna.runtime.nk.utility import UtilityNk

REFERENCE = Path(__file__).resolve().parents[3] / "docs" / "nk-reference.md"

_HEADER = """\
<!-- Written by `python -m kizuna.runtime.nk.refgen` from the code: do not edit by hand. -->
# The `nk` reference

Every call server code can make, generated from its signature and docstring. Each is blocking in
plain `def` functions (`nk.x(...)`) and a coroutine in `async def` ones (`await nk.aio.x(...)`),
with the same parameters and result; calls that need no database (JSON, ids, ...) are plain
functions only. See docs/runtime.md for how modules are written, loaded and tested.

**Errors.** A call that fails raises `kizuna.runtime.Error(message, code)` with a gRPC code, which
reaches the client as it is when your function does not catch it: 3 INVALID_ARGUMENT (a bad
argument: the message names it), 5 NOT_FOUND, 6 ALREADY_EXISTS, 7 PERMISSION_DENIED, 9
FAILED_PRECONDITION (a rule refused it: a wallet going negative, a full tournament), 4
DEADLINE_EXCEEDED (the function's `runtime.call_timeout_ms` ran out), 14 UNAVAILABLE (the
database is unreachable, or lacks a migration of this release). The messages are the ones the
REST API answers for the same rule. Each call below lists the errors it raises itself (code and
message; `<...>` stands for a value); 4 and 14 can come from any call that waits, and are not
repeated there. Catch them with `except Error as exc:` and look at `exc.code` and `exc.message`.

Each call's example is written for a plain `def` function (`ctx`, `logger` and `nk` are the
function's arguments); in an `async def` one, write `await nk.aio.x(...)` instead of `nk.x(...)`.
"""

_SECTION = re.compile(r"^(Errors|Example):\s*$")
_ERROR_ITEM = re.compile(r"^(\d+) ([A-Z_]+) ")


def sections(doc: str) -> tuple[str, list[str], str]:
    """A call's docstring split in three: the description, the items of its `Errors:` part (each
    "<code> <NAME> `message` ..." on lines starting with "- ") and the code of its `Example:`
    part. The parts are indented under their heading; either may be missing ([] or "")."""
    text = inspect.cleandoc(doc or "")
    body: list[str] = []
    parts: dict[str, list[str]] = {"Errors": [], "Example": []}
    current: list[str] = body
    for line in text.splitlines():
        heading = _SECTION.match(line)
        if heading:
            current = parts[heading.group(1)]
        else:
            current.append(line)
    errors: list[str] = []
    for line in textwrap.dedent("\n".join(parts["Errors"])).splitlines():
        if line.startswith("- "):
            errors.append(line[2:].strip())
        elif line.strip() and errors:
            errors[-1] += " " + line.strip()
    example = textwrap.dedent("\n".join(parts["Example"])).strip()
    return "\n".join(body).strip(), errors, example


def error_code(item: str) -> tuple[int, str] | None:
    """The code an `Errors:` item names ("3 INVALID_ARGUMENT `...`"), or None: a "None ..." item
    (the call raises nothing of its own) or an "Also ... `nk.x` ..." one (another call's errors)."""
    found = _ERROR_ITEM.match(item)
    return (int(found.group(1)), found.group(2)) if found else None


def _documented(fn: Any, lines: list[str]) -> None:
    """A call's description, its errors and its example, in Markdown."""
    body, errors, example = sections(fn.__doc__ or "")
    if body:
        lines.append(body + "\n")
    if errors:
        lines.append("**Errors**\n")
        for item in errors:
            found = error_code(item)
            if found:
                code, label = found
                item = f"`{code} {label}` " + item[len(f"{code} {label} "):]
            lines.append(f"- {item}")
        lines.append("")
    if example:
        lines.append(f"**Example**\n\n```python\n{example}\n```\n")


def _area(cls: type) -> str:
    """The area a call belongs to, from the class defining it (`GroupsNk` -> "Groups")."""
    name = cls.__name__.removesuffix("Nk")
    return re.sub(r"(?<!^)(?=[A-Z])", " ", name)


def _owner(name: str) -> type:
    for klass in AsyncNk.__mro__:
        if name in vars(klass):
            return klass
    return AsyncNk


def _params(fn: Any) -> str:
    sig = inspect.signature(fn)
    parts = []
    star = False  # a bare `*` before keyword-only parameters, as Python writes it
    for p in list(sig.parameters.values())[1:]:
        ann = p.annotation if isinstance(p.annotation, str) else inspect.formatannotation(
            p.annotation)
        default = "" if p.default is p.empty else f" = {p.default!r}"
        prefix = "*" if p.kind == p.VAR_POSITIONAL else "**" if p.kind == p.VAR_KEYWORD else ""
        if p.kind == p.KEYWORD_ONLY and not star:
            parts.append("*")
        star = star or p.kind in (p.VAR_POSITIONAL, p.KEYWORD_ONLY)
        parts.append(f"{prefix}{p.name}: {ann}{default}")
    return ", ".join(parts)


def _result(fn: Any) -> str:
    ann = inspect.signature(fn).return_annotation
    return ann if isinstance(ann, str) else inspect.formatannotation(ann)


def _shapes() -> list[tuple[str, type]]:
    """The result shapes: kizuna/runtime/shapes.py's, and any an area module defines."""
    modules = [shapes] + [sys.modules[k.__module__] for k in AsyncNk.__mro__
                          if k.__module__.startswith("kizuna.runtime.nk.")]
    out: dict[str, type] = {}
    for module in modules:
        for name, value in vars(module).items():
            if isinstance(value, type) and value.__module__ == module.__name__ and (
                    typing.is_typeddict(value) or hasattr(value, "_fields")):
                out.setdefault(name, value)
    return list(out.items())


def _shape_fields(cls: type) -> list[tuple[str, str]]:
    hints = typing.get_type_hints(cls)
    names = list(cls._fields) if hasattr(cls, "_fields") else list(hints)
    out = []
    for n in names:
        hint = hints.get(n, Any)
        text = re.sub(r"kizuna\.runtime\.[a-z_.]*\.", "", inspect.formatannotation(hint))
        out.append((n, text))
    return out


def render() -> str:
    lines = [_HEADER]
    calls = coroutine_methods(AsyncNk)
    by_area: dict[str, list[str]] = {}
    for name in calls:
        by_area.setdefault(_area(_owner(name)), []).append(name)
    plain = sorted(n for n, v in vars(UtilityNk).items()
                   if not n.startswith("_") and callable(v)
                   and not inspect.iscoroutinefunction(v))
    lines.append("## Contents\n")
    for area in by_area:
        anchor = area.lower().replace(" ", "-")
        lines.append(f"- [{area}](#{anchor}): " + ", ".join(f"`{n}`" for n in by_area[area]))
    if plain:
        lines.append("- [Plain functions](#plain-functions): "
                     + ", ".join(f"`{n}`" for n in plain))
    lines.append("- [Shapes](#shapes)\n")
    for area, names in by_area.items():
        lines.append(f"## {area}\n")
        for name in names:
            fn = calls[name]
            lines.append(f"### `{name}`\n")
            lines.append(f"```python\nnk.{name}({_params(fn)}) -> {_result(fn)}\n"
                         f"await nk.aio.{name}(...)\n```\n")
            _documented(fn, lines)
    if plain:
        lines.append("## Plain functions\n")
        for name in plain:
            fn = getattr(UtilityNk, name)
            lines.append(f"### `{name}`\n")
            lines.append(f"```python\nnk.{name}({_params(fn)}) -> {_result(fn)}\n```\n")
            _documented(fn, lines)
    lines.append("## Shapes\n")
    lines.append("Results are plain dicts (and named tuples) with these fields; JSON documents are "
                 "decoded, times are RFC 3339 strings, unset values are `\"\"` or 0.\n")
    for name, cls in _shapes():
        lines.append(f"### `{name}`\n")
        doc = inspect.cleandoc(cls.__doc__ or "") if cls.__doc__ and not cls.__doc__.startswith(
            f"{name}(") and "dict() -> new empty dictionary" not in cls.__doc__ else ""
        if doc:
            lines.append(doc + "\n")
        lines.append("| field | type |\n|---|---|")
        for field, text in _shape_fields(cls):
            lines.append(f"| `{field}` | `{text}` |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    text = render()
    if "--check" in argv:
        if not REFERENCE.exists() or REFERENCE.read_text() != text:
            print(f"{REFERENCE} is out of date: run `python -m kizuna.runtime.nk.refgen`")
            return 1
        return 0
    REFERENCE.write_text(text)
    print(f"wrote {REFERENCE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
