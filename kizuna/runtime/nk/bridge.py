"""The blocking form of an nk call: `nk.x(...)` runs the coroutine `nk.aio.x(...)` on the event
loop while the calling worker thread waits.

`blocking_twins(AsyncNk)` gives a class a `_Blocking` descriptor for every public coroutine method
of AsyncNk, with the same name, signature (as `inspect.signature` and `help()` show it) and
docstring, so an nk call is written once, as a coroutine, and a new one is on `nk` at once. The
class provides `_block` (the thread-to-loop hop, with the deadline and the refusal to block the
loop itself).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, TypeVar, overload

P = ParamSpec("P")
T = TypeVar("T")
C = TypeVar("C", bound=type)


class Blocker(Protocol):
    def _block(self, name: str, fn: Callable[..., Coroutine[Any, Any, Any]], args: tuple,
               kwargs: dict) -> Any: ...


class _Blocking(Generic[P, T]):
    """`nk.x(...)`: the coroutine `nk.aio.x(...)`, run on the event loop while the calling thread
    waits (bounded by the calling function's deadline)."""

    def __init__(self, fn: Callable[Concatenate[Any, P], Coroutine[Any, Any, T]]) -> None:
        self._fn = fn
        self._name = fn.__name__
        self.__doc__ = fn.__doc__
        sig = inspect.signature(fn)
        self._sig = sig.replace(parameters=list(sig.parameters.values())[1:],
                                return_annotation=sig.return_annotation)

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> _Blocking[P, T]: ...

    @overload
    def __get__(self, obj: Blocker, owner: type | None = None) -> Callable[P, T]: ...

    def __get__(self, obj: Blocker | None, owner: type | None = None) -> Any:
        if obj is None:
            return self
        fn, name = self._fn, self._name

        def call(*args: P.args, **kwargs: P.kwargs) -> T:
            return obj._block(name, fn, args, kwargs)
        call.__name__ = call.__qualname__ = name
        call.__doc__ = self.__doc__
        call.__signature__ = self._sig  # type: ignore[attr-defined]
        return call


def coroutine_methods(source: type) -> dict[str, Callable[..., Coroutine[Any, Any, Any]]]:
    """The public coroutine methods of a class, its own and inherited, in the order of its MRO
    and of their definitions (an area's calls together)."""
    found: dict[str, Callable[..., Coroutine[Any, Any, Any]]] = {}
    for klass in source.__mro__:
        for name in vars(klass):
            if name.startswith("_") or name in found:
                continue
            fn = getattr(source, name)
            if inspect.iscoroutinefunction(fn):
                found[name] = fn
    return found


def blocking_twins(source: type) -> Callable[[C], C]:
    """Class decorator: a blocking twin of every public coroutine method of `source`."""
    def add(cls: C) -> C:
        for name, fn in coroutine_methods(source).items():
            if hasattr(cls, name):
                raise TypeError(f"{cls.__name__}.{name} is already defined: it would hide the "
                                f"blocking twin of {source.__name__}.{name}")
            twin: _Blocking[Any, Any] = _Blocking(fn)
            twin.__set_name__(cls, name)
            setattr(cls, name, twin)
        return cls
    return add
