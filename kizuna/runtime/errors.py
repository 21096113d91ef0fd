"""Errors of server modules, and of loading them.

`Error(message, code)` is what module code raises to answer a client: the code is a gRPC status
code (1-16, see `Code`), mapped to HTTP like every other error (3 -> 400, 5 -> 404, ...) and, over
the socket, reported as RUNTIME_FUNCTION_EXCEPTION with the message. A code outside 1-16 becomes 13
(Internal), as in Nakama. Any other exception escaping a function is a bug: the client gets code 13
"Internal Server Error" and the traceback goes to the log, never to the client.

`nk` calls raise `Error` too (a storage write refused for a version mismatch is
`Error("Storage write rejected - version check failed.", Code.INVALID_ARGUMENT)`), so module code
has one exception type to catch.
"""

from __future__ import annotations

from dataclasses import dataclass

from kizuna.errors import Code, KizunaError

__all__ = ["Code", "Error", "LoadError", "NkUnavailable", "RegistrationError", "to_kizuna"]


class Error(Exception):
    """Raise from a server function to fail the call with a gRPC code and a client-facing message."""

    def __init__(self, message: str = "", code: int = Code.INTERNAL) -> None:
        super().__init__(message)
        self.message = str(message)
        try:
            self.code = int(code)
        except (TypeError, ValueError):
            self.code = int(Code.INTERNAL)

    def __repr__(self) -> str:
        return f"Error({self.message!r}, {self.code})"


def to_kizuna(exc: Error | KizunaError) -> KizunaError:
    """The domain error a transport maps: a module's code if it is 1-16, else 13."""
    if isinstance(exc, KizunaError):
        return exc
    code = exc.code if 1 <= exc.code <= 16 else Code.INTERNAL
    return KizunaError(code, exc.message)


def from_kizuna(exc: KizunaError) -> Error:
    return Error(exc.message, int(exc.code))


class RegistrationError(Exception):
    """A refused `initializer.register_*` call (raised where the module calls it)."""


class NkUnavailable(BaseException):
    """`kizuna check` runs `init_module` without a database: an `nk` call that needs one stops
    the module there. A BaseException, so module code catching `Exception` does not swallow it."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


@dataclass
class LoadError(Exception):
    """A module that does not load: where (file and line, when known) and why, on one line."""
    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}"
