"""The one error type: a gRPC status code and a message, as Nakama answers. The domain raises it;
the REST layer (api/errors.py) and the socket layer (realtime/envelope.py) each map it in one place."""

from __future__ import annotations

from enum import IntEnum


class Code(IntEnum):
    """gRPC status codes, as Nakama uses them."""
    OK = 0
    CANCELED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


class KizunaError(Exception):
    def __init__(self, code: Code | int, message: str) -> None:
        super().__init__(message)
        self.code = Code(code)
        self.message = message

    def __repr__(self) -> str:
        return f"KizunaError({self.code.name}, {self.message!r})"


def invalid(message: str) -> KizunaError:
    return KizunaError(Code.INVALID_ARGUMENT, message)


def not_found(message: str) -> KizunaError:
    return KizunaError(Code.NOT_FOUND, message)


def unauthenticated(message: str) -> KizunaError:
    return KizunaError(Code.UNAUTHENTICATED, message)
