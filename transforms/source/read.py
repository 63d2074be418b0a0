"""Stream an archive file as chunks of whole lines, counting every line (contract §1).

Memory is bounded by the chunk size, whatever the size of the file or the archive. Each
chunk keeps the lines' bytes exactly as DuckDB will read them, plus the numbers of its
non-blank lines, so that every row can name its line. What cannot be delivered as a line (a
corrupt compressed stream, a line over the size limit) becomes an `Unreadable` piece, which
is quarantined, so the line count always balances.

The stored bytes (`transforms.source.stored`) are decompressed as they stream, gzip member after
member and zstd a block a call (`transforms.source.zstd_blocks`), so that a damaged stream
still delivers everything before the damage.
"""

import zlib
from collections.abc import Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import zstandard
from numpy.typing import NDArray

from transforms.source.discover import ArchiveFile
from transforms.source.stored import BLOCK_BYTES, FEED_BYTES, Readable, open_local
from transforms.source.zstd_blocks import zstd_decompressed

# the most one decompress call returns, whatever the compression ratio
OUTPUT_BYTES = 1 << 20
RAW_LIMIT = 64 << 10
BOM = b"\xef\xbb\xbf"
_BLANK = b" \t\r"
BLANK_BYTES = np.frombuffer(_BLANK, np.uint8)
NEWLINE = ord("\n")
_BLANK_STARTS = frozenset([b"", b" ", b"\t", b"\r"])


class Decompressor(Protocol):
    """zlib's decompressor (its class is not public), as read here."""

    @property
    def unused_data(self) -> bytes: ...
    @property
    def unconsumed_tail(self) -> bytes: ...
    @property
    def eof(self) -> bool: ...
    def decompress(self, data: bytes | memoryview, /, max_length: int = 0) -> bytes: ...
    def copy(self) -> "Decompressor": ...


class CorruptStreamError(Exception):
    """The compressed stream broke off; what was decompressed before stays readable."""


@dataclass
class Chunk:
    """Consecutive whole lines of a file, the first numbered `first_line_no` (1-based): the
    i-th line is `data[starts[i]:ends[i]]`, without its newline. Lines are found by offsets,
    not copied out one by one (a 32 MB chunk's 70,000 line objects cost more time and memory
    than the rest of cutting it). `oversized` maps the lines over the size limit to why they
    are not read."""

    first_line_no: int
    data: bytes
    starts: NDArray[np.int64]
    ends: NDArray[np.int64]
    nonblank: list[int] = field(default_factory=list)
    unterminated: bool = False
    oversized: dict[int, str] = field(default_factory=dict)

    @property
    def count(self) -> int:
        """How many lines the chunk holds."""
        return len(self.starts)

    @property
    def blank(self) -> int:
        return self.count - len(self.nonblank)

    @property
    def last_line_no(self) -> int:
        return self.first_line_no + self.count - 1

    def line(self, line_no: int) -> bytes:
        index = line_no - self.first_line_no
        return self.data[self.starts[index] : self.ends[index]]

    @property
    def lines(self) -> list[bytes]:
        """Every line, copied out (to look at a chunk; the pipeline reads lines by offset)."""
        return [self.line(no) for no in range(self.first_line_no, self.last_line_no + 1)]


@dataclass
class Unreadable:
    """A line the reader could not deliver whole, with why and what was read of it."""

    line_no: int
    reason: str
    raw: bytes


def is_blank(line: bytes) -> bool:
    return line[:1] in _BLANK_STARTS and not line.strip(_BLANK)


def _fed(raw: Readable) -> Iterator[memoryview]:
    """The stored bytes in pieces of at most `FEED_BYTES`, read `BLOCK_BYTES` at a time."""
    while stored := raw.read(BLOCK_BYTES):
        view = memoryview(stored)
        for start in range(0, len(view), FEED_BYTES):
            yield view[start : start + FEED_BYTES]


def _inflated_before_the_error(decompressor: Decompressor, data: bytes | memoryview) -> bytes:
    """What a failed call's `data` gives before the error, replayed a byte a call from the
    state before the call."""
    output = bytearray()
    with suppress(zlib.error):
        for index in range(len(data)):
            output += decompressor.decompress(data[index : index + 1])
    return bytes(output)


def _inflated(decompressor: Decompressor, data: bytes | memoryview) -> Iterator[bytes]:
    """All that `data` decompresses to, at most `OUTPUT_BYTES` a call; where zlib fails, all
    it gives before the error, then the error."""
    while True:
        # zlib drops the whole output of a call that fails: it is replayed from this copy
        before = decompressor.copy()
        try:
            block = decompressor.decompress(data, OUTPUT_BYTES)
        except zlib.error:
            yield _inflated_before_the_error(before, data)
            raise
        yield block
        data = decompressor.unconsumed_tail
        # a full block may leave output in zlib even when the input is all taken
        if decompressor.eof or (not data and len(block) < OUTPUT_BYTES):
            return


def _gunzipped(raw: Readable) -> Iterator[bytes]:
    """gzip decompressed member after member, yielding as it goes, so that a stream cut off
    or damaged still delivers everything before the damage."""
    decompressor = zlib.decompressobj(wbits=31)
    pending = False
    for piece in _fed(raw):
        compressed: bytes | memoryview = piece
        while compressed:
            pending = True
            yield from _inflated(decompressor, compressed)
            if not decompressor.eof:
                break
            compressed = decompressor.unused_data
            decompressor = zlib.decompressobj(wbits=31)
            pending = False
    if pending:
        raise EOFError("the gzip stream ends before its end marker")


def _plain(raw: Readable) -> Iterator[bytes]:
    while block := raw.read(BLOCK_BYTES):
        yield block


def decompressed_blocks(raw: Readable, compression: str) -> Iterator[bytes]:
    """The decompressed bytes of a file in blocks; raises `CorruptStreamError` where the
    stream breaks, after every byte the decompressor gives before the break was delivered
    (for zstd, every block before the broken one). An error of the storage itself (`OSError`)
    is not the file's content and is raised as it is."""
    blocks = {"gzip": _gunzipped, "zstd": zstd_decompressed}.get(compression, _plain)(raw)
    delivered = 0
    try:
        for block in blocks:
            delivered += len(block)
            yield block
    except (EOFError, zlib.error, zstandard.ZstdError) as error:
        raise CorruptStreamError(
            f"{compression} stream is corrupt after {delivered} decompressed bytes "
            f"({type(error).__name__}); the rest of the file cannot be read"
        ) from error


def local_blocks(file: ArchiveFile) -> Iterator[bytes]:
    with open_local(file) as raw:
        yield from decompressed_blocks(raw, file.compression)


def _oversize_reason(size: int, limit: int) -> str:
    return f"line of {size} bytes exceeds the limit of {limit} bytes"


def _chunk(first_line_no: int, data: bytes, unterminated: bool, max_line_bytes: int) -> Chunk:
    if BOM in data:
        data = data.removeprefix(BOM).replace(b"\n" + BOM, b"\n")
    view = np.frombuffer(data, np.uint8)
    newlines = np.flatnonzero(view == NEWLINE)
    ends = newlines if not unterminated else np.append(newlines, len(data))
    starts = np.concatenate(([0], newlines[: len(ends) - 1] + 1)).astype(np.int64)
    lengths = ends - starts
    # a blank line is empty or starts with a blank: only those few are looked at
    blank = lengths == 0
    if len(data):
        blank |= np.isin(view[np.minimum(starts, len(data) - 1)], BLANK_BYTES)
    for index in np.flatnonzero(blank):
        blank[index] = is_blank(data[starts[index] : ends[index]])
    nonblank = (np.flatnonzero(~blank) + first_line_no).tolist()
    oversized = {
        first_line_no + int(index): _oversize_reason(int(lengths[index]), max_line_bytes)
        for index in np.flatnonzero(lengths > max_line_bytes)
    }
    return Chunk(first_line_no, data, starts, ends, nonblank, unterminated, oversized)


def _oversized(line_no: int, size: int, limit: int, head: bytes) -> Unreadable:
    return Unreadable(line_no, _oversize_reason(size, limit), head)


def pieces(
    blocks: Iterable[bytes], chunk_bytes: int, max_line_bytes: int
) -> Iterator[Chunk | Unreadable]:
    """Cut decompressed blocks into chunks of about `chunk_bytes` whole lines; a line longer
    than `max_line_bytes` and the unreadable rest of a corrupt stream become `Unreadable`."""
    buffer = bytearray()
    next_line_no = 1
    oversized_head: bytes | None = None
    oversized_size = 0
    try:
        for block in blocks:
            buffer += block
            if oversized_head is not None:
                newline = buffer.find(b"\n")
                oversized_size += len(buffer) if newline < 0 else newline
                if newline < 0:
                    buffer.clear()
                    continue
                yield _oversized(next_line_no, oversized_size, max_line_bytes, oversized_head)
                next_line_no += 1
                del buffer[: newline + 1]
                oversized_head = None
            cut = buffer.rfind(b"\n") + 1
            if cut and len(buffer) >= chunk_bytes:
                chunk = _chunk(next_line_no, bytes(buffer[:cut]), False, max_line_bytes)
                del buffer[:cut]
                next_line_no += chunk.count
                yield chunk
            elif not cut and len(buffer) > max_line_bytes:
                oversized_head, oversized_size = bytes(buffer[:RAW_LIMIT]), len(buffer)
                buffer.clear()
    except CorruptStreamError as corrupt:
        cut = buffer.rfind(b"\n") + 1
        if cut:
            chunk = _chunk(next_line_no, bytes(buffer[:cut]), False, max_line_bytes)
            next_line_no += chunk.count
            yield chunk
        yield Unreadable(next_line_no, str(corrupt), bytes(buffer[cut:]))
        return
    if oversized_head is not None:
        yield _oversized(next_line_no, oversized_size, max_line_bytes, oversized_head)
    elif buffer:
        yield _chunk(next_line_no, bytes(buffer), not buffer.endswith(b"\n"), max_line_bytes)
