"""Writes blocking.pyi, the typed view of `Nk` for type checkers and editors.

At run time `Nk` gets its blocking calls from AsyncNk by itself (bridge.py); Python's type system
cannot say "the same signature, without the coroutine", so this writes it out: for every public
coroutine method of AsyncNk, a plain method with the same parameters, result and docstring.

    python -m kizuna.runtime.nk.stubgen          # rewrite blocking.pyi after changing a call
    python -m kizuna.runtime.nk.stubgen --check  # exit 1 if blocking.pyi is out of date
"""

from __future__ import annotations

import builtins
import inspect
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kizuna.runtime.nk.aio import AsyncNk
from kizuna.runtime.nk.blocking import Nk
from kizuna.runtime.nk.bridge import coroutine_methods

STUB = Path(__file__).with_name("blocking.pyi")
WIDTH = 100  # the code's line length
IMPORT_WIDTH = 88  # where ruff's import sorting wraps a line

_HEADER = '''\
# Written by `python -m kizuna.runtime.nk.stubgen` from AsyncNk: do not edit by hand.
"""The typed view of kizuna/runtime/nk/blocking.py (see stubgen.py)."""

'''

# Names the fixed part of the stub uses, and where they come from.
_FIXED = {"Any": "typing", "Callable": "collections.abc", "Coroutine": "collections.abc",
          "AsyncNk": "kizuna.runtime.nk.aio", "Host": "kizuna.runtime.nk.base",
          "UtilityNk": "kizuna.runtime.nk.utility"}

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _annotation(value: Any) -> str:
    if value is inspect.Parameter.empty:
        raise TypeError("every nk call must annotate its parameters and result")
    return value if isinstance(value, str) else inspect.formatannotation(value)


def _signature(name: str, fn: Callable[..., Any]) -> tuple[str, set[str]]:
    """`def name(self, ...) -> result:` and the names its annotations use."""
    sig = inspect.signature(fn)
    params = list(sig.parameters.values())[1:]  # without self
    names: set[str] = set()
    parts = ["self"]
    star = False
    for p in params:
        ann = _annotation(p.annotation)
        names.update(_NAME.findall(ann))
        if p.kind is p.KEYWORD_ONLY and not star:
            parts.append("*")
            star = True
        prefix = ("*" if p.kind is p.VAR_POSITIONAL else
                  "**" if p.kind is p.VAR_KEYWORD else "")
        star = star or p.kind is p.VAR_POSITIONAL
        default = "" if p.default is p.empty else f" = {p.default!r}"
        parts.append(f"{prefix}{p.name}: {ann}{default}")
        if p.kind is p.POSITIONAL_ONLY and (params.index(p) + 1 == len(params) or
                                           params[params.index(p) + 1].kind
                                           is not p.POSITIONAL_ONLY):
            parts.append("/")
    result = _annotation(sig.return_annotation)
    names.update(_NAME.findall(result))
    line = f"    def {name}({', '.join(parts)}) -> {result}:"
    if len(line) > WIDTH:
        line = (f"    def {name}(\n" + "".join(f"        {p},\n" for p in parts)
                + f"    ) -> {result}:")
    return line, names


def _docstring(doc: str | None) -> str:
    if not doc:
        return "        ...\n"
    text = inspect.cleandoc(doc)
    if '"""' in text or "\\" in text or text.endswith('"'):
        raise ValueError("nk docstrings must not contain triple quotes or backslashes")
    body = text.replace("\n", "\n        ").replace("\n        \n", "\n\n")
    return f'        """{body}"""\n'


def render() -> str:
    """The text blocking.pyi should hold."""
    origins = dict(_FIXED)
    methods = []
    for name, fn in coroutine_methods(AsyncNk).items():
        line, names = _signature(name, fn)
        scope = inspect.unwrap(fn).__globals__
        for n in names - {"None"}:
            if n in scope:
                origins.setdefault(n, scope[n].__module__)
            elif not hasattr(builtins, n):
                raise NameError(f"{name}: cannot find {n!r} to import in the stub")
        methods.append(line + "\n" + _docstring(fn.__doc__))
    by_module: dict[str, list[str]] = {}
    for n, module in origins.items():
        by_module.setdefault(module, []).append(n)
    groups: tuple[list[str], list[str]] = ([], [])  # the standard library's, then the others
    for module in sorted(by_module):
        imported = sorted(by_module[module], key=lambda n: (n.lower(), n))  # as ruff sorts
        line = f"from {module} import {', '.join(imported)}"
        if len(line) > IMPORT_WIDTH:
            line = f"from {module} import (\n" + "".join(f"    {n},\n" for n in imported) + ")"
        groups[0 if module.split(".")[0] in sys.stdlib_module_names else 1].append(line)
    imports = "\n\n".join("\n".join(g) for g in groups if g)
    nk_doc = inspect.cleandoc(Nk.__doc__ or "").replace("\n", "\n    ")
    return (_HEADER + imports + "\n\n"
            f'class Nk(UtilityNk):\n    """{nk_doc}"""\n\n'
            "    aio: AsyncNk\n\n"
            "    def __init__(self, runtime: Host | None) -> None: ...\n"
            "    def _block(self, name: str, fn: Callable[..., Coroutine[Any, Any, Any]], "
            "args: tuple,\n               kwargs: dict) -> Any: ...\n\n"
            + "\n".join(methods))


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not STUB.exists() or STUB.read_text() != text:
            print(f"{STUB} is out of date: run `python -m kizuna.runtime.nk.stubgen`",
                  file=sys.stderr)
            return 1
        return 0
    STUB.write_text(text)
    print(f"wrote {STUB}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
