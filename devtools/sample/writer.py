"""Write webhook events into archive files the way a business's endpoint archives them: one
file per sender and arrival hour, in that sender's layout (Hive or Firehose folders),
compression (gzip, zstd or none), line endings and envelope style."""

import gzip
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from io import BufferedWriter
from pathlib import Path
from typing import Any, Literal, Protocol

import orjson
import zstandard

HOUR = 3600


@dataclass(frozen=True)
class SenderProfile:
    """A business number and how its webhook endpoint archives what it receives."""

    number: str
    display: str
    phone_number_id: str
    api: Literal["cloud", "on_premise"]
    layout: Literal["hive_hour", "hive_day", "firehose"]
    compression: Literal["gzip", "zstd", "none"]
    envelope: Literal["payload", "body"] | None
    crlf: bool = False

    def path(self, hour_start: int) -> str:
        moment = datetime.fromtimestamp(hour_start, tz=UTC)
        extension = {"gzip": ".jsonl.gz", "zstd": ".ndjson.zst", "none": ".json"}[self.compression]
        if self.layout == "hive_hour":
            folder = f"sender={self.number}/dt={moment:%Y-%m-%d}/hour={moment:%H}"
            return f"{folder}/events-0000{extension}"
        if self.layout == "hive_day":
            return f"endpoint/dt={moment:%Y-%m-%d}/events-{self.number}-{moment:%H}{extension}"
        return f"firehose/{moment:%Y/%m/%d/%H}/whatsapp-webhooks-{self.number}-0{extension}"


class _ByteSink(Protocol):
    def write(self, data: bytes, /) -> int: ...

    def close(self) -> None: ...


@dataclass
class _OpenFile:
    raw: BufferedWriter
    stream: _ByteSink
    lines: int = 0
    bytes: int = 0


@dataclass
class ArchiveWriter:
    """Appends lines to the right file; files of hours that can receive no more events are
    closed as the simulation's clock passes them."""

    root: Path
    files_written: int = 0
    lines_written: int = 0
    bytes_written: int = 0
    _open: dict[str, tuple[_OpenFile, SenderProfile, int]] = field(default_factory=dict)
    _tails: dict[str, bytes] = field(default_factory=dict)
    _closed: set[str] = field(default_factory=set)

    def _file(self, profile: SenderProfile, hour_start: int) -> _OpenFile:
        relative = profile.path(hour_start)
        if relative in self._closed:
            raise RuntimeError(f"{relative} was closed already: the simulation's clock went back")
        if relative not in self._open:
            path = self.root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            raw = path.open("wb")
            stream: _ByteSink
            if profile.compression == "gzip":
                stream = gzip.GzipFile(
                    filename="", mode="wb", fileobj=raw, compresslevel=5, mtime=0
                )
            elif profile.compression == "zstd":
                stream = zstandard.ZstdCompressor(level=3).stream_writer(raw, closefd=False)
            else:
                stream = raw
            self._open[relative] = (_OpenFile(raw, stream), profile, hour_start)
        return self._open[relative][0]

    def write(self, profile: SenderProfile, arrival: float, line: bytes) -> None:
        hour_start = int(arrival) // HOUR * HOUR
        handle = self._file(profile, hour_start)
        ending = b"\r\n" if profile.crlf else b"\n"
        handle.stream.write(line + ending)
        handle.lines += 1
        handle.bytes += len(line) + len(ending)

    def event(
        self, profile: SenderProfile, arrival: float, payload: dict[str, Any], wrapped: bool
    ) -> None:
        """One webhook body as its line: bare, or in the sender's envelope style."""
        if wrapped:
            style = profile.envelope or "payload"
            received: object = (
                datetime.fromtimestamp(arrival, tz=UTC).isoformat().replace("+00:00", "Z")
                if style == "payload"
                else int(arrival)
            )
            payload = {"received_at": received, style: payload, "sender": profile.number}
        self.write(profile, arrival, orjson.dumps(payload))

    def cut_off_last_line(self, profile: SenderProfile, arrival: float, line: bytes) -> None:
        """End the file of this hour with `line` cut in half and no newline, as when the
        archiver died mid-write."""
        relative = profile.path(int(arrival) // HOUR * HOUR)
        self._file(profile, int(arrival) // HOUR * HOUR)
        self._tails[relative] = line[: len(line) // 2]

    def close_before(self, moment: float) -> None:
        """Close the files of hours that end before `moment`."""
        for relative, (_, _, hour_start) in list(self._open.items()):
            if hour_start + HOUR <= moment:
                self._close(relative)

    def close_all(self) -> None:
        for relative in list(self._open):
            self._close(relative)

    def _close(self, relative: str) -> None:
        handle, _, hour_start = self._open.pop(relative)
        self._closed.add(relative)
        if tail := self._tails.pop(relative, None):
            handle.stream.write(tail)
            handle.lines += 1
            handle.bytes += len(tail)
        handle.stream.close()
        if not handle.raw.closed:
            handle.raw.close()
        # the archiver closes an hour's file a few minutes after the hour
        closed_at = hour_start + HOUR + 300
        os.utime(self.root / relative, (closed_at, closed_at))
        self.files_written += 1
        self.lines_written += handle.lines
        self.bytes_written += handle.bytes
