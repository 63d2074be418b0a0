"""Stream an archive file as chunks of whole lines, counting every line (SPEC 1).

Memory is bounded by the chunk size, whatever the size of the file or the archive. Each
chunk keeps the lines' bytes exactly as DuckDB will read them, plus the numbers of its
non-blank lines, so that every row can name its line. What cannot be delivered as a line (a
corrupt compressed stream, a line over the size limit) becomes an `Unreadable` piece, which
is quarantined, so the line count always balances.
"""

import hashlib
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol, cast

import numpy as np
import zstandard
from numpy.typing import NDArray

from transforms.discover import ArchiveFile

BLOCK_BYTES = 4 << 20
# zstd's reader raises for the whole read at the damage: small reads lose little before it
READ_BYTES = 256 << 10
RAW_LIMIT = 64 << 10
BOM = b"\xef\xbb\xbf"
_BLANK = b" \t\r"
BLANK_BYTES = np.frombuffer(_BLANK, np.uint8)
NEWLINE = ord("\n")
_BLANK_STARTS = frozenset([b"", b" ", b"\t", b"\r"])


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


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


def _gunzipped(raw: Readable) -> Iterator[bytes]:
    """gzip decompressed member after member, yielding as it goes, so that a stream cut off
    or damaged still delivers everything before the damage."""
    decompressor = zlib.decompressobj(wbits=31)
    pending = False
    while compressed := raw.read(BLOCK_BYTES):
        while compressed:
            pending = True
            yield decompressor.decompress(compressed)
            if not decompressor.eof:
                break
            compressed = decompressor.unused_data
            decompressor = zlib.decompressobj(wbits=31)
            pending = False
    if pending:
        yield decompressor.flush()
        raise EOFError("the gzip stream ends before its end marker")


def _zstd_decompressed(raw: Readable) -> Iterator[bytes]:
    # the reader calls only read(), which every Readable has
    source = cast(BinaryIO, raw)
    reader = zstandard.ZstdDecompressor().stream_reader(source, read_across_frames=True)
    while block := reader.read(READ_BYTES):
        yield block


def _plain(raw: Readable) -> Iterator[bytes]:
    while block := raw.read(BLOCK_BYTES):
        yield block


def decompressed_blocks(raw: Readable, compression: str) -> Iterator[bytes]:
    """The decompressed bytes of a file in blocks; raises `CorruptStreamError` where the
    stream breaks, after every byte before the break was delivered. An error of the storage
    itself (`OSError`) is not the file's content and is raised as it is."""
    blocks = {"gzip": _gunzipped, "zstd": _zstd_decompressed}.get(compression, _plain)(raw)
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


Opener = Callable[[ArchiveFile], BinaryIO]
"""Opens an archive file's stored bytes for reading (closed by its caller)."""


def open_local(file: ArchiveFile) -> BinaryIO:
    return Path(file.uri).open("rb")


def local_blocks(file: ArchiveFile) -> Iterator[bytes]:
    with open_local(file) as raw:
        yield from decompressed_blocks(raw, file.compression)


class HashingReader:
    """A stored file read through, hashing its bytes on the way: the manifest's content hash
    costs no second read (SHA-256 runs at over 1 GB/s, the parsing at tens of MB/s)."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._hash = hashlib.sha256()

    def read(self, size: int = -1, /) -> bytes:
        data = self._raw.read(size)
        self._hash.update(data)
        return data

    def sha256_of_all(self) -> str:
        """The hash of the whole file, reading what the decompressor left (after damage)."""
        while self.read(BLOCK_BYTES):
            pass
        return self._hash.hexdigest()


def content_sha256(opener: Opener, file: ArchiveFile) -> str:
    """SHA-256 of a file's stored bytes, as the manifest keeps it."""
    with opener(file) as raw:
        return HashingReader(raw).sha256_of_all()


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
