"""Honest progress of a night, stage by stage: the reading by the bytes of JSON read (a
compressed byte counts as the JSON it holds, as the tasks are sized: `json_bytes_estimate`),
the build by model, the publish by table; each with its rate and the time left.

On a terminal it is a bar per stage (rich, which Prefect already brings); elsewhere (a log, a
Prefect worker) a line every 10 s with the same figures, and one when a stage ends.
"""

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

EVERY_SECONDS = 10.0


@dataclass
class Stage:
    """A stage's figures: how much of how much, in which unit, since when."""

    name: str
    total: float
    unit: str
    scale: float = 1.0
    done: float = 0.0
    detail: str = ""
    started: float = field(default_factory=time.monotonic)

    def line(self) -> str:
        """`reading: 45% (210.3 of 467.2 MB of JSON, 25.1 MB/s), about 12 s left`."""
        elapsed = max(time.monotonic() - self.started, 1e-9)
        share = self.done / self.total if self.total else 1.0
        rate = self.done / elapsed
        left = (self.total - self.done) / rate if rate > 0 else None
        amounts = (
            f"{self.done / self.scale:,.1f} of {self.total / self.scale:,.1f} {self.unit}"
            if self.scale != 1
            else f"{self.done:,.0f} of {self.total:,.0f} {self.unit}"
        )
        per_second = f", {rate / self.scale:,.1f} {self.unit.split()[0]}/s" if rate > 0 else ""
        remaining = f", about {left:,.0f} s left" if left is not None and share < 1 else ""
        detail = f": {self.detail}" if self.detail else ""
        return (
            f"{self.name}: {share:.0%} ({amounts}{per_second}){remaining}, {elapsed:,.0f} s{detail}"
        )


class NightProgress:
    """Stages one after another; `advance` may be called from any thread (the reading
    tasks' threads count their bytes)."""

    def __init__(self, say: Callable[[str], None], terminal: IO[str] | None = None) -> None:
        self._say = say
        self._lock = threading.Lock()
        self._stage: Stage | None = None
        # how long each stage took, the one under way so far
        self._seconds: dict[str, float] = {}
        self._bars: Progress | None = None
        self._bar: TaskID | None = None
        self._stop = threading.Event()
        if terminal is not None and terminal.isatty():
            self._bars = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=Console(file=terminal),
                transient=False,
            )
        self._ticker = threading.Thread(target=self._tick, name="progress", daemon=True)

    def _tick(self) -> None:
        while not self._stop.wait(EVERY_SECONDS):
            with self._lock:
                stage = self._stage
            if stage is not None and self._bars is None:
                self._say(stage.line())

    def start(self, name: str, total: float, unit: str, scale: float = 1.0) -> None:
        """A new stage begins (the one before it ends)."""
        self.end()
        with self._lock:
            self._stage = Stage(name, total, unit, scale)
            if self._bars is not None:
                self._bar = self._bars.add_task(name, total=max(total / scale, 1e-9), rate="")

    def advance(self, amount: float = 1.0, detail: str = "") -> None:
        with self._lock:
            stage = self._stage
            if stage is None:
                return
            stage.done = min(stage.done + amount, stage.total) if stage.total else stage.done
            stage.detail = detail or stage.detail
            if self._bars is not None and self._bar is not None:
                elapsed = max(time.monotonic() - stage.started, 1e-9)
                rate = f"{stage.done / stage.scale / elapsed:,.1f} {stage.unit.split()[0]}/s"
                self._bars.update(
                    self._bar,
                    completed=stage.done / stage.scale,
                    rate=rate,
                    description=(f"{stage.name} {stage.detail}".strip()),
                )

    def end(self, *, done: bool = True) -> None:
        """The stage ends (`done`: all of it; else where it stopped): its last figures are
        told."""
        with self._lock:
            stage, self._stage = self._stage, None
            if stage is not None:
                self._seconds[stage.name] = time.monotonic() - stage.started
        if stage is None:
            return
        if done:
            stage.done = stage.total
        if self._bars is not None and self._bar is not None:
            self._bars.update(self._bar, completed=stage.done / stage.scale)
        else:
            self._say(stage.line())

    def stage_seconds(self) -> dict[str, float]:
        """How long each stage took so far, in the order they ran."""
        with self._lock:
            taken = dict(self._seconds)
            if self._stage is not None:
                taken[self._stage.name] = time.monotonic() - self._stage.started
        return taken

    @contextmanager
    def running(self) -> Iterator["NightProgress"]:
        """Report while the night runs; stop when it ends, however it ends."""
        if self._bars is not None:
            self._bars.start()
        self._ticker.start()
        done = False
        try:
            yield self
            done = True
        finally:
            self.end(done=done)
            self._stop.set()
            if self._bars is not None:
                self._bars.stop()


_current: NightProgress | None = None


def install(progress: NightProgress | None) -> None:
    """The progress of the night this process runs (the command line installs its own, that
    draws on its terminal); the flow reports through it."""
    global _current
    _current = progress


def installed() -> NightProgress | None:
    return _current


def stage_seconds() -> dict[str, float]:
    """The seconds of the night's stages, as the installed progress saw them (none without
    one)."""
    reporter = installed()
    if reporter is None:
        return {}
    return {name: round(seconds, 2) for name, seconds in reporter.stage_seconds().items()}
