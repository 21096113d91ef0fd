from __future__ import annotations


class MigrateError(Exception):
    """A migration failure, worded for the operator: what happened and what to do next."""

    def __init__(self, message: str, hint: str = "", **data: object) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.data = data

    def __str__(self) -> str:
        return self.message + (f"\n{self.hint}" if self.hint else "")
