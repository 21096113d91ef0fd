"""How migration progress reaches people: a console (rich) and the server log."""

from __future__ import annotations

import logging

from rich.console import Console
from rich.markup import escape

from kizuna.migrate.loader import Migration, Statement
from kizuna.migrate.lock import Holder


class ConsoleReporter:
    def __init__(self, console: Console, verbose: bool = False) -> None:
        self.c = console
        self.verbose = verbose

    def lock_waiting(self, holder: Holder | None, waited: float) -> None:
        who = holder.describe() if holder else "another process"
        self.c.print(f"[yellow]waiting for the migration lock ({waited:.0f}s): held by {escape(who)}[/]")

    def begin(self, m: Migration, direction: str, resume_at: int) -> None:
        n = len(m.section(direction))
        kind = "transactional" if m.transactional else "no-transaction"
        arrow = "↑" if direction == "up" else "↓"
        resume = f", resuming at statement {resume_at + 1}" if resume_at else ""
        self.c.print(f"{arrow} [bold]{escape(m.id)}[/] {direction} ({m.phase}, {kind}, "
                     f"{n} statement{'s' if n != 1 else ''}{resume})")

    def statement(self, m: Migration, index: int, total: int, st: Statement) -> None:
        if self.verbose or not m.transactional:
            first = st.sql.strip().splitlines()[0][:100]
            self.c.print(f"    [dim][{index + 1}/{total}] {escape(first)}[/]")

    def retry(self, m: Migration, attempt: int, delay: float, why: str) -> None:
        self.c.print(f"    [yellow]{escape(m.id)}: {escape(why)}; retry {attempt} in {delay:.1f}s[/]")

    def done(self, m: Migration, direction: str, ms: int) -> None:
        verb = "applied" if direction == "up" else "reverted"
        self.c.print(f"  [green]✓[/] {escape(m.id)} {verb} in {ms} ms")

    def note(self, text: str) -> None:
        self.c.print(f"    [cyan]{escape(text)}[/]")


class LogReporter:
    def __init__(self, logger: logging.Logger) -> None:
        self.log = logger

    def lock_waiting(self, holder: Holder | None, waited: float) -> None:
        self.log.info("Waiting for the migration lock",
                      extra={"holder": holder.describe() if holder else None, "waited_sec": round(waited)})

    def begin(self, m: Migration, direction: str, resume_at: int) -> None:
        self.log.info("Migrating", extra={"migration": m.id, "direction": direction,
                                          "resume_at": resume_at or None})

    def statement(self, m: Migration, index: int, total: int, st: Statement) -> None:
        pass

    def retry(self, m: Migration, attempt: int, delay: float, why: str) -> None:
        self.log.warning("Migration lock timeout, retrying",
                         extra={"migration": m.id, "attempt": attempt, "delay_sec": round(delay, 1), "why": why})

    def done(self, m: Migration, direction: str, ms: int) -> None:
        self.log.info("Migrated", extra={"migration": m.id, "direction": direction, "ms": ms})

    def note(self, text: str) -> None:
        self.log.info(text)
