"""The clock every service reads the time from, injected so tests can move it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...

    def today(self) -> date: ...


class SystemClock:
    """Wall-clock time in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def today(self) -> date:
        return self.now().date()


class FixedClock:
    """A clock that stands still until a test moves it."""

    def __init__(self, at: datetime) -> None:
        self._at = at

    def now(self) -> datetime:
        return self._at

    def today(self) -> date:
        return self._at.date()

    def advance(self, by: timedelta) -> None:
        self._at += by


class FileClock:
    """A clock whose time is written in a file, shared by several processes.

    End-to-end tests and demonstrations set ``PRRE_CLOCK_FILE`` for every
    service and move time for all of them at once by rewriting the file (one
    ISO 8601 date-time). A missing or empty file means wall-clock time.
    """

    def __init__(self, path: Path) -> None:
        self._path = path

    def now(self) -> datetime:
        try:
            text = self._path.read_text().strip()
        except FileNotFoundError:
            text = ""
        if not text:
            return datetime.now(UTC)
        moment = datetime.fromisoformat(text)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    def today(self) -> date:
        return self.now().date()

    def set(self, at: datetime) -> None:
        """Move every process reading this file to ``at``."""
        temporary = self._path.with_suffix(".tmp")
        temporary.write_text(at.isoformat())
        temporary.replace(self._path)


def clock_for(clock_file: Path | None) -> Clock:
    """The file clock when a clock file is configured, otherwise the system clock."""
    return FileClock(clock_file) if clock_file else SystemClock()
