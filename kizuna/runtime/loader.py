"""Loading server modules from `runtime.path`.

Every `*.py` file and every package (a directory with `__init__.py`) directly under the path is a
module, loaded in name order. Each may define `init_module(ctx, logger, nk, initializer)` (a plain
function or a coroutine), which registers the module's functions; a module without it is a helper
the others import (`import helpers` works between modules of the path).

Modules are imported under their own names, through a finder that only answers for files of the
path (sys.path is not touched) and compiles from source every time (no bytecode cache, so a
reload always sees the file as it is now, and nothing is written next to the modules). A module
named like an installed one (`json.py`) is refused rather than allowed to shadow it.

A module that fails (a syntax error, an exception at import or in init_module, a refused
registration) becomes a `LoadError` naming the file and line; its registrations are dropped. A
failure inside another module of the path (a helper it imports or calls) names the helper's line
and the module that was loading it, and is reported once however many modules meet it (a helper
that does not import fails every module importing it, and its own load too).

`unserved_hooks` words the warnings about hooks registered for API methods or socket messages the
server does not serve yet (the server logs them at start, `kizuna check` prints them).
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import inspect
import os
import sys
import threading
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from kizuna.runtime.context import Context
from kizuna.runtime.errors import Error, LoadError, NkUnavailable, RegistrationError
from kizuna.runtime.logger import Logger
from kizuna.runtime.registry import Initializer, Registry
from kizuna.wire import methods

_lock = threading.Lock()  # one load at a time per process (they share sys.modules)


@dataclass(frozen=True)
class Found:
    name: str
    path: Path  # the file, or the package directory
    package: bool

    @property
    def file(self) -> Path:
        return self.path / "__init__.py" if self.package else self.path


@dataclass
class LoadResult:
    registry: Registry
    errors: list[LoadError] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)  # module -> what was loaded (for check)
    failed: list[str] = field(default_factory=list)  # modules (or entries) that did not load


def discover(root: Path) -> tuple[list[Found], list[LoadError]]:
    found: list[Found] = []
    errors: list[LoadError] = []
    if not root.is_dir():
        return found, errors
    for entry in sorted(root.iterdir(), key=lambda p: p.name):
        if entry.name.startswith((".", "__")):
            continue
        if entry.is_file() and entry.suffix == ".py":
            name, package = entry.stem, False
        elif entry.is_dir() and (entry / "__init__.py").is_file():
            name, package = entry.name, True
        else:
            continue
        if not name.isidentifier():
            errors.append(LoadError(display(entry), None,
                                    f"{name!r} is not a valid Python module name"))
            continue
        found.append(Found(name, entry, package))
    return found, errors


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """(mtime_ns, size) of every .py file under the path: what `--dev` polls for changes."""
    out: dict[str, tuple[int, int]] = {}
    stack = [str(root)]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for e in entries:
            if e.name.startswith(".") or e.name == "__pycache__":
                continue
            try:
                if e.is_dir(follow_symlinks=False):
                    stack.append(e.path)
                elif e.name.endswith(".py"):
                    st = e.stat()
                    out[e.path] = (st.st_mtime_ns, st.st_size)
            except OSError:
                continue
    return out


def display(path: str | Path) -> str:
    """A path as an operator reads it: relative to the working directory when under it."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(p)


def _under(path: str | None, root: Path) -> bool:
    if not path:
        return False
    try:
        Path(path).resolve().relative_to(root)
        return True
    except (ValueError, OSError):
        return False


# -- importing -------------------------------------------------------------------------------------


class _SourceLoader(importlib.machinery.SourceFileLoader):
    """Compiles from the source file every time: no bytecode cache read or written."""

    def get_code(self, fullname: str) -> Any:
        path = self.get_filename(fullname)
        return compile(self.get_data(path), path, "exec", dont_inherit=True)


class _Finder(importlib.abc.MetaPathFinder):
    def __init__(self) -> None:
        self.root: Path | None = None
        self.top: dict[str, Found] = {}

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        root = self.root
        if root is None:
            return None
        if path is None:
            found = self.top.get(fullname)
            if found is None:
                return None
            file = str(found.file)
            return importlib.util.spec_from_file_location(
                fullname, file, loader=_SourceLoader(fullname, file),
                submodule_search_locations=[str(found.path)] if found.package else None)
        if not any(_under(p, root) for p in path):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            spec.loader = _SourceLoader(fullname, spec.loader.path)
        return spec


_finder = _Finder()


def _install_finder() -> None:
    if _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)


def _ours(module: ModuleType, root: Path) -> bool:
    return _under(getattr(module, "__file__", None), root)


def _loaded_by_us(module: ModuleType) -> bool:
    """Whether a module is a server module, of this modules path or of another one this process
    loaded before (kizuna.testing loads several)."""
    return isinstance(getattr(getattr(module, "__spec__", None), "loader", None), _SourceLoader)


def _forget(root: Path) -> dict[str, ModuleType]:
    """Drop the modules of the path from sys.modules (a reload imports them afresh), and those of
    any other modules path loaded before (a module of this path may have the same name)."""
    gone = {name: m for name, m in list(sys.modules.items())
            if m is not None and (_ours(m, root) or _loaded_by_us(m))}
    for name in gone:
        del sys.modules[name]
    return gone


def _clash(found: Found, root: Path) -> str | None:
    name = found.name
    existing = sys.modules.get(name)
    if existing is not None and not _ours(existing, root):
        return name
    if name in sys.stdlib_module_names or name in sys.builtin_module_names:
        return name
    try:
        if importlib.machinery.PathFinder.find_spec(name) is not None:
            return name
    except (ImportError, ValueError):
        pass
    return None


def _owner(path: str | Path, root: Path) -> str | None:
    """The module of the path a file belongs to (`helpers` for helpers.py or pkg/x.py of a
    package `helpers`), or None for a file outside the path."""
    try:
        parts = Path(path).resolve().relative_to(root).parts
    except (ValueError, OSError):
        return None
    if not parts:
        return None
    return parts[0][:-3] if len(parts) == 1 and parts[0].endswith(".py") else parts[0]


def _locate(exc: BaseException, root: Path, found: Found) -> tuple[LoadError, str]:
    """Where a module failed: the deepest line of the failure inside the modules path, and that
    line's file (unformatted)."""
    if isinstance(exc, SyntaxError) and exc.filename and _under(exc.filename, root):
        return LoadError(display(exc.filename), exc.lineno,
                         f"{type(exc).__name__}: {exc.msg}"), exc.filename
    file, line = str(found.file), None
    for frame in traceback.extract_tb(exc.__traceback__):
        if _under(frame.filename, root):
            file, line = frame.filename, frame.lineno
    if isinstance(exc, RegistrationError):
        message = str(exc)
    elif isinstance(exc, Error):
        message = f"Error: {exc.message}"
    else:
        message = f"{type(exc).__name__}: {exc}".rstrip(": ")
    return LoadError(display(file), line, message), file


def _entry(exc: BaseException, root: Path, found: Found) -> str:
    """The last line of the loading module's own files on the way to a failure elsewhere (its
    `import helpers`, or its call into a helper), as `file:line`; else its file."""
    where = display(found.file)
    for frame in traceback.extract_tb(exc.__traceback__):
        if _owner(frame.filename, root) == found.name:
            where = f"{display(frame.filename)}:{frame.lineno}"
    return where


class _Failures:
    """The load's errors, each reported once: a failure met again (a broken helper imported by
    several modules, then loaded itself) adds the module that met it to the first report."""

    def __init__(self, result: LoadResult) -> None:
        self.result = result
        self.seen: dict[tuple[str, int | None, str], tuple[LoadError, str, list[str]]] = {}

    def add(self, module: str, error: LoadError, via: str | None = None) -> None:
        """`via`: where `module` was when the failure happened in another module's file."""
        self.result.failed.append(module)
        key = (error.file, error.line, error.message)
        entry = self.seen.get(key)
        if entry is None:
            entry = (error, error.message, [])
            self.seen[key] = entry
            self.result.errors.append(error)
        if via is not None:
            entry[2].append(f"module {module}: {via}")
            error, base, loaders = entry
            error.message = f"{base} (while loading {'; '.join(loaders)})"


# -- loading ---------------------------------------------------------------------------------------


def load(root: Path, context: Callable[[], Context], nk: Any,
         loop: asyncio.AbstractEventLoop | None, *, check: bool = False,
         only: Iterable[str] | None = None) -> LoadResult:
    """Import every module of `root` and run its init_module, in the calling (worker) thread;
    coroutine init_modules run on `loop`. On any error the previous modules stay importable
    (sys.modules is restored), so a failed `--dev` reload leaves the server as it was.

    `only`: load these modules of the path alone (the others stay importable by name, as
    helpers); kizuna.testing uses it to test one file of a modules directory."""
    root = root.resolve()
    with _lock:
        _install_finder()
        previous = (_finder.root, dict(_finder.top))
        old_modules = _forget(root)
        found, errors = discover(root)
        _finder.root = root
        _finder.top = {f.name: f for f in found}
        result = LoadResult(Registry(), errors, failed=[e.file for e in errors])
        failures = _Failures(result)
        wanted = None if only is None else set(only)
        for f in found:
            if wanted is None or f.name in wanted:
                _load_one(f, root, context, nk, loop, result, check, failures)
        if result.errors:
            _forget(root)
            sys.modules.update(old_modules)
            _finder.root, _finder.top = previous
        return result


def _load_one(f: Found, root: Path, context: Callable[[], Context], nk: Any,
              loop: asyncio.AbstractEventLoop | None, result: LoadResult, check: bool,
              failures: _Failures) -> None:
    clash = _clash(f, root)
    if clash is not None:
        _finder.top.pop(f.name, None)
        failures.add(f.name, LoadError(display(f.path), None, (
            f"module name {clash!r} is already taken by an installed Python module; rename "
            f"the {'package' if f.package else 'file'}")))
        return
    staged = Registry(modules=[f.name])
    initializer = Initializer(f.name, staged, existing=result.registry)
    note = ""
    try:
        module = importlib.import_module(f.name)
        init = getattr(module, "init_module", None)
        if init is None:
            note = "no init_module (a helper module)"
        elif not callable(init):
            raise RegistrationError("init_module must be a function")
        else:
            args = (context(), Logger(f"kizuna.runtime.{f.name}"), nk, initializer)
            if inspect.iscoroutinefunction(init):
                if loop is None:
                    raise RuntimeError("no event loop to run an async init_module on")
                asyncio.run_coroutine_threadsafe(init(*args), loop).result()
            else:
                out = init(*args)
                if inspect.isawaitable(out):
                    asyncio.run_coroutine_threadsafe(_await(out), loop).result()  # type: ignore[arg-type]
    except NkUnavailable as stop:
        if not check:
            failures.add(f.name, LoadError(display(f.file), None,
                                           f"nk.{stop.name} is not available while loading"))
            return
        note = (f"init_module stopped at nk.{stop.name}(): `kizuna check` does not connect to the "
                f"database; what it registered before that was checked")
    except BaseException as exc:  # any failure of module code is reported
        if isinstance(exc, KeyboardInterrupt):
            raise
        error, file = _locate(exc, root, f)
        owner = _owner(file, root)
        elsewhere = owner is not None and owner != f.name
        failures.add(f.name, error, _entry(exc, root, f) if elsewhere else None)
        return
    result.registry.merge(staged)
    result.notes[f.name] = "; ".join(p for p in (staged.summary() if len(staged) else "", note)
                                     if p) or "nothing registered"


async def _await(awaitable: Any) -> Any:
    return await awaitable


def unserved_hooks(registry: Registry, served_methods: frozenset[str] | None,
                   served_kinds: frozenset[str] | None) -> list[str]:
    """Warnings, one per hook registered for an API method (hook key, `methods.api_key`) or a
    socket message (envelope kind) this server does not serve yet; a None set is not checked.
    Such a hook is accepted: it takes effect once a release serves the method or message."""
    out: list[str] = []
    if served_methods is not None:
        for hooks in (registry.before, registry.after):
            for key, f in hooks.items():
                if key not in served_methods:
                    out.append(f"module {f.module}: {f.label}: this server does not serve "
                               f"{methods.api_name(key)} yet, so the hook never runs")
    if served_kinds is not None:
        for hooks, what in ((registry.rt_before, "the hook runs, then the message is refused"),
                            (registry.rt_after, "the message is refused and the hook never runs")):
            for kind, f in hooks.items():
                if kind not in served_kinds:
                    out.append(f"module {f.module}: {f.label}: this server does not serve the "
                               f"socket message {methods.rt_name(kind)} yet: {what} "
                               f"(\"{methods.not_supported(kind)}\")")
    return out
