"""Batches of lines across archive files, as the flatten passes read them.

Files are cut into chunks of whole lines (`transforms.source.read`); chunks of one or more files are
gathered into batches of about `chunk_bytes`, so that DuckDB's fixed cost per query is paid
per batch, not per small file. A batch knows every line by its key (file, line number) and
tallies what becomes of each line of each file.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from itertools import accumulate
from typing import cast

from pydantic_core import from_json, to_json

from transforms.contract.raw_tables import RAW_TABLES
from transforms.contract.wire import TimeWindow
from transforms.ingest.validate import Accepted, Rejected, parsed_object, verdict
from transforms.source.discover import ArchiveFile
from transforms.source.read import RAW_LIMIT, Chunk, Unreadable, decompressed_blocks, pieces
from transforms.source.stored import HashingReader, Opener

LineKey = tuple[int, int]
"""A line of a task: (index of its file, line number)."""


@dataclass
class FileTally:
    """What became of the lines of one file so far."""

    lines: int = 0
    classified: int = 0
    blank: int = 0
    unreadable: str | None = None
    content_sha256: str | None = None
    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RAW_TABLES, 0))
    quarantine: list[dict[str, object]] = field(default_factory=list)
    unclassified: list[dict[str, object]] = field(default_factory=list)


@dataclass
class Batch:
    """Lines of one or more files, read by DuckDB as one file."""

    chunks: list[tuple[int, Chunk]] = field(default_factory=list)
    size: int = 0


def raw_text(raw: bytes) -> str:
    """A line for the quarantine: cut to 64 KiB, invalid UTF-8 replaced."""
    return raw[:RAW_LIMIT].decode("utf-8", errors="replace")


@dataclass
class BatchInput:
    """Lines as DuckDB reads them: `data` holds one non-blank line per key, in order (blank
    lines may sit between them, which DuckDB skips); the i-th key's line starts at `starts[i]`."""

    data: bytes
    keys: list[LineKey]
    starts: list[int]


def _line_starts(lines: list[bytes]) -> Iterator[int]:
    """Where each line starts when the lines are joined, each ended by a newline."""
    return accumulate((len(line) + 1 for line in lines[:-1]), initial=0) if lines else iter(())


def joined(lines: list[bytes], keys: list[LineKey]) -> BatchInput:
    """The lines, one per key, each ended by a newline."""
    return BatchInput(b"".join(line + b"\n" for line in lines), keys, list(_line_starts(lines)))


def _is_last_unterminated(chunk: Chunk, line_no: int) -> bool:
    return chunk.unterminated and line_no == chunk.last_line_no


class BatchLines:
    """The raw lines of a batch, by key, judged against the run's time window."""

    def __init__(self, batch: Batch, window: TimeWindow) -> None:
        self.window = window
        self.chunks: dict[int, list[Chunk]] = {}
        for file_index, chunk in batch.chunks:
            self.chunks.setdefault(file_index, []).append(chunk)

    def chunk_of(self, key: LineKey) -> Chunk:
        file_index, line_no = key
        return next(
            chunk
            for chunk in self.chunks[file_index]
            if chunk.first_line_no <= line_no <= chunk.last_line_no
        )

    def raw(self, key: LineKey) -> bytes:
        return self.chunk_of(key).line(key[1])

    def verdict(self, key: LineKey) -> Accepted | Rejected:
        chunk = self.chunk_of(key)
        return verdict(
            chunk.line(key[1]),
            window=self.window,
            unterminated=_is_last_unterminated(chunk, key[1]),
        )

    def reparsed(self, key: LineKey) -> bytes:
        """A valid line written again as it parses: every field kept, a repeated key once
        (with its last value, as the models read it), which DuckDB refuses to read."""
        return to_json(from_json(self.raw(key).decode("utf-8").removeprefix("\ufeff")))

    def normalized(self, key: LineKey) -> bytes:
        """A valid line in the models' normal form (the fields the models know)."""
        judged = self.verdict(key)
        assert isinstance(judged, Accepted)
        return judged.normalized


def _starts(chunk: Chunk, nonblank: list[int]) -> list[int]:
    """Where each of the chunk's non-blank lines starts in its data."""
    if len(nonblank) == chunk.count:
        return cast(list[int], chunk.starts.tolist())
    return cast(list[int], chunk.starts[[no - chunk.first_line_no for no in nonblank]].tolist())


def batch_input(batch: Batch, rejected: dict[LineKey, str]) -> BatchInput:
    """The batch's lines as DuckDB reads them. The unterminated last line of a file that is not
    JSON is judged here, so that a file cut off mid-line does not send the whole batch to
    pydantic."""
    parts: list[bytes] = []
    keys: list[LineKey] = []
    starts: list[int] = []
    size = 0
    for file_index, chunk in batch.chunks:
        nonblank, data = chunk.nonblank, chunk.data
        if chunk.oversized:
            rejected.update({(file_index, no): why for no, why in chunk.oversized.items()})
            nonblank = [no for no in nonblank if no not in chunk.oversized]
            readable = joined([chunk.line(no) for no in nonblank], [])
            data, chunk_starts = readable.data, readable.starts
        else:
            chunk_starts = _starts(chunk, nonblank)
            if chunk.unterminated:
                last = chunk.last_line_no
                parsed = parsed_object(chunk.line(last), unterminated=True)
                if isinstance(parsed, Rejected) and nonblank and nonblank[-1] == last:
                    rejected[(file_index, last)] = parsed.reason
                    nonblank, chunk_starts = nonblank[:-1], chunk_starts[:-1]
                    data = data[: data.rfind(b"\n") + 1]
                else:
                    data += b"\n"
        parts.append(data)
        keys.extend((file_index, line_no) for line_no in nonblank)
        starts.extend(size + start for start in chunk_starts)
        size += len(data)
    return BatchInput(b"".join(parts), keys, starts)


ReadHook = Callable[[ArchiveFile, int], None]
"""Told how many stored bytes of a file were just read (the night's progress)."""


def batches(
    files: list[ArchiveFile],
    opener: Opener,
    chunk_bytes: int,
    max_line_bytes: int,
    tallies: list[FileTally],
    on_read: ReadHook | None = None,
) -> Iterator[Batch]:
    """Batches of about `chunk_bytes` of lines across the files, in file and line order."""
    batch = Batch()
    for file_index, file in enumerate(files):
        tally = tallies[file_index]
        try:
            with opener(file) as stored:
                hashing = HashingReader(stored, partial(on_read, file) if on_read else None)
                blocks = decompressed_blocks(hashing, file.compression)
                for piece in pieces(blocks, chunk_bytes, max_line_bytes):
                    tally.lines += 1 if isinstance(piece, Unreadable) else piece.count
                    if isinstance(piece, Unreadable):
                        tally.quarantine.append(
                            {
                                "line_no": piece.line_no,
                                "reason": piece.reason,
                                "raw": raw_text(piece.raw),
                            }
                        )
                        continue
                    tally.blank += piece.blank
                    batch.chunks.append((file_index, piece))
                    batch.size += len(piece.data)
                    if batch.size >= chunk_bytes:
                        yield batch
                        batch = Batch()
                tally.content_sha256 = hashing.sha256_of_all()
        except OSError as error:
            # the storage failed, not the content: the file is left for the next run
            tally.unreadable = f"{type(error).__name__}: {error.strerror or error}"
    if batch.chunks:
        yield batch
