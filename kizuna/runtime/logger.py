"""The logger server functions receive: printf-style messages plus structured fields.

    logger.info("granted %d coins", 100, user_id=ctx.user_id)
    log = logger.with_fields({"match": match_id}); log.warn("slow tick")

Lines go through Kizuna's logging (JSON by default), under `kizuna.runtime.<module>`, with the
module's own file and line as the caller.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from kizuna.logs import FIELDS


class Logger:
    __slots__ = ("_fields", "_log")

    def __init__(self, log: logging.Logger | str, fields: Mapping[str, Any] | None = None) -> None:
        self._log = logging.getLogger(log) if isinstance(log, str) else log
        self._fields = dict(fields or {})

    def with_field(self, key: str, value: Any) -> Logger:
        return Logger(self._log, {**self._fields, key: value})

    def with_fields(self, fields: Mapping[str, Any]) -> Logger:
        return Logger(self._log, {**self._fields, **fields})

    def fields(self) -> dict[str, Any]:
        return dict(self._fields)

    def debug(self, msg: str, /, *args: Any, **fields: Any) -> None:
        self._emit(logging.DEBUG, msg, args, fields)

    def info(self, msg: str, /, *args: Any, **fields: Any) -> None:
        self._emit(logging.INFO, msg, args, fields)

    def warn(self, msg: str, /, *args: Any, **fields: Any) -> None:
        self._emit(logging.WARNING, msg, args, fields)

    warning = warn

    def error(self, msg: str, /, *args: Any, **fields: Any) -> None:
        self._emit(logging.ERROR, msg, args, fields)

    def _emit(self, level: int, msg: str, args: tuple, fields: dict[str, Any]) -> None:
        if not self._log.isEnabledFor(level):
            return
        # Under one attribute, so that any field name is logged as given (see kizuna/logs.py).
        self._log.log(level, msg, *args, extra={FIELDS: {**self._fields, **fields}},
                      stacklevel=3)
