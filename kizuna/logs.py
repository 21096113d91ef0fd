"""Structured logging: JSON lines by default (Nakama's keys), or stackdriver, or plain text."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime

import orjson

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
           "error": logging.ERROR}
_STD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


# The attribute holding fields given by name (server modules' loggers): any name a module
# chooses ("name", "module", "args" ...) is logged as it is, LogRecord's own attributes included.
FIELDS = "kizuna_fields"


def _fields(record: logging.LogRecord) -> dict:
    out = {k: v for k, v in record.__dict__.items()
           if k not in _STD and not k.startswith("_") and k != FIELDS}
    named = record.__dict__.get(FIELDS)
    if named:
        out.update(named)
    return out


def _merge(core: dict, fields: dict) -> dict:
    """The line's own keys, then the fields; a field named like one of the line's keys (`msg`,
    `level` ...) is written as `field.<name>` rather than replacing it."""
    for k, v in fields.items():
        core[f"field.{k}" if k in core else k] = v
    return core


class JsonFormatter(logging.Formatter):
    def __init__(self, stackdriver: bool = False) -> None:
        super().__init__()
        self.stackdriver = stackdriver

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        level = record.levelname.lower().replace("warning", "warn")
        if self.stackdriver:
            # Cloud Logging's LogSeverity names (WARNING, not WARN), as Nakama's encoder writes.
            doc = {"severity": record.levelname, "time": ts,
                   "message": record.getMessage(),
                   "caller": f"{record.module}:{record.lineno}"}
        else:
            doc = {"level": level, "ts": ts, "caller": f"{record.module}:{record.lineno}",
                   "msg": record.getMessage()}
        _merge(doc, _fields(record))
        if record.exc_info:
            doc["error"] = self.formatException(record.exc_info)
        return orjson.dumps(doc, default=str).decode()


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC).strftime("%H:%M:%S")
        extra = " ".join(f"{k}={v}" for k, v in _fields(record).items())
        line = f"{ts} {record.levelname:<7} {record.getMessage()}" + (f"  {extra}" if extra else "")
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def setup(level: str = "info", fmt: str = "json", stdout: bool = True, file: str = "",
          stderr: bool = False) -> None:
    """Log to stdout (the server, as Nakama), to stderr (`stderr`: commands, whose stdout is
    their answer), and/or to a file."""
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    formatter: logging.Formatter = (
        TextFormatter() if fmt == "text" else JsonFormatter(stackdriver=fmt == "stackdriver"))
    if stdout or stderr:
        h = logging.StreamHandler(sys.stderr if stderr else sys.stdout)
        h.setFormatter(formatter)
        root.addHandler(h)
    if file:
        fh = logging.FileHandler(file)
        fh.setFormatter(formatter)
        root.addHandler(fh)
    root.setLevel(_LEVELS.get(level, logging.INFO))
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("asyncio").setLevel(logging.WARNING)
