"""Stream an archive file as chunks of whole lines, counting every line (contract §1).

Memory is bounded by the chunk size, whatever the size of the file or the archive. Each
chunk keeps the lines' bytes exactly as DuckDB will read them, plus the numbers of its
non-blank lines, so that every row can name its line. What cannot be delivered as a line (a
corrupt compressed stream, a line over the size limit) becomes an `Unreadable` piece, which
is quarantined, so the line count always balances.
"""

import errno
import hashlib
import os
import stat
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol

import numpy as np
import zstandard
from numpy.typing import NDArray

from transforms.discover import ArchiveFile

BLOCK_BYTES = 4 << 20
# a zlib call that fails returns nothing and is replayed byte by byte: its input is kept short
FEED_BYTES = 64 << 10
# the most one decompress call returns, whatever the compression ratio
OUTPUT_BYTES = 1 << 20
# zstd's input is cut into blocks of at most 128 KiB: reads of about a block keep it in cache
READ_BYTES = 128 << 10
ZSTD_MAGIC = 0xFD2FB528
# a skippable frame's magic number is any of 16, the low 4 bits free
ZSTD_SKIPPABLE_MAGIC = 0x184D2A50
RAW_LIMIT = 64 << 10
BOM = b"\xef\xbb\xbf"
_BLANK = b" \t\r"
BLANK_BYTES = np.frombuffer(_BLANK, np.uint8)
NEWLINE = ord("\n")
_BLANK_STARTS = frozenset([b"", b" ", b"\t", b"\r"])


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


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


class ExactReader:
    """A `Readable` read `READ_BYTES` at a time and handed out in the sizes asked for, as
    views of what was read (not copies)."""

    def __init__(self, raw: Readable) -> None:
        self._raw = raw
        self._data = memoryview(b"")

    def peek(self, size: int) -> memoryview:
        """The next `size` bytes, left to be taken; fewer only where the file ends."""
        while len(self._data) < size and (more := self._raw.read(READ_BYTES)):
            self._data = memoryview(b"".join((self._data, more)))
        return self._data[:size]

    def take(self, size: int) -> memoryview:
        """The next `size` bytes; fewer only where the file ends."""
        piece = self.peek(size)
        self._data = self._data[len(piece) :]
        return piece


def _zstd_header_size(descriptor: memoryview) -> int:
    """How many bytes of a zstd frame header follow its descriptor (RFC 8878, 3.1.1.1)."""
    if not descriptor:
        return 0
    single_segment = descriptor[0] >> 5 & 1
    window = 1 - single_segment
    dictionary_id = (0, 1, 2, 4)[descriptor[0] & 3]
    content_size = (single_segment, 2, 4, 8)[descriptor[0] >> 6]
    return window + dictionary_id + content_size


def _zstd_frame_pieces(stored: ExactReader) -> Iterator[memoryview]:
    """A zstd frame cut after each of its blocks (its header goes with the first)."""
    descriptor = stored.peek(5)[4:]
    head = 5 + _zstd_header_size(descriptor)
    checksum = 4 if descriptor and descriptor[0] & 4 else 0
    last = False
    while not last and len(block_header := stored.peek(head + 3)[head:]) == 3:
        fields = int.from_bytes(block_header, "little")
        last = fields & 1 == 1
        # an RLE block (type 1) holds one byte, its size field says how often it repeats
        size = 1 if fields >> 1 & 3 == 1 else fields >> 3
        yield stored.take(head + 3 + size)
        head = 0
    # the checksum after the last block, or what is left of a frame the file cuts off
    yield stored.take(head + (checksum if last else 3))


def _zstd_skippable_pieces(stored: ExactReader) -> Iterator[memoryview]:
    """A skippable frame (no output) in pieces of at most `FEED_BYTES`."""
    left = 8 + int.from_bytes(stored.peek(8)[4:], "little")
    while left and (piece := stored.take(min(left, FEED_BYTES))):
        left -= len(piece)
        yield piece


def _zstd_pieces(raw: Readable) -> Iterator[memoryview]:
    """The compressed stream cut after each block (RFC 8878). zstd decodes a block only once
    it holds all of it, and a call that fails returns nothing: fed a block a call, it keeps
    every block before a damaged one, and a call's output is at most a block (128 KiB). The
    headers are read only to cut; zstd itself judges them, and what is not a frame is fed
    as it is, for zstd to reject."""
    stored = ExactReader(raw)
    while magic := stored.peek(4):
        number = int.from_bytes(magic, "little")
        if number == ZSTD_MAGIC:
            yield from _zstd_frame_pieces(stored)
        elif number & ~0xF == ZSTD_SKIPPABLE_MAGIC:
            yield from _zstd_skippable_pieces(stored)
        else:
            while rest := stored.take(FEED_BYTES):
                yield rest


def _zstd_decompressed(raw: Readable) -> Iterator[bytes]:
    """zstd decompressed frame after frame, a block a call (see `_zstd_pieces`)."""
    decompressor = zstandard.ZstdDecompressor()
    frame: zstandard.ZstdDecompressionObj | None = None
    for piece in _zstd_pieces(raw):
        compressed: bytes | memoryview = piece
        while compressed:
            if frame is None:
                frame = decompressor.decompressobj()
            yield frame.decompress(compressed)
            if not frame.eof:
                break
            compressed = frame.unused_data
            frame = None
    if frame is not None:
        raise EOFError("the zstd stream ends inside a frame")


def _plain(raw: Readable) -> Iterator[bytes]:
    while block := raw.read(BLOCK_BYTES):
        yield block


def decompressed_blocks(raw: Readable, compression: str) -> Iterator[bytes]:
    """The decompressed bytes of a file in blocks; raises `CorruptStreamError` where the
    stream breaks, after every byte the decompressor gives before the break was delivered
    (for zstd, every block before the broken one). An error of the storage itself (`OSError`)
    is not the file's content and is raised as it is."""
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
    """A listed file opened for reading, if it is still a regular file: a file swapped for a
    link since the listing is not followed, nor a FIFO waited on for ever."""
    descriptor = os.open(file.uri, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise OSError(errno.EINVAL, "no longer a regular file")
        os.set_blocking(descriptor, True)
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


def local_blocks(file: ArchiveFile) -> Iterator[bytes]:
    with open_local(file) as raw:
        yield from decompressed_blocks(raw, file.compression)


class HashingReader:
    """A stored file read through, hashing its bytes on the way: the manifest's content hash
    costs no second read (SHA-256 runs at over 1 GB/s, the parsing at tens of MB/s)."""

    def __init__(self, raw: BinaryIO, on_read: Callable[[int], None] | None = None) -> None:
        self._raw = raw
        self._hash = hashlib.sha256()
        self._on_read = on_read

    def read(self, size: int = -1, /) -> bytes:
        data = self._raw.read(size)
        self._hash.update(data)
        if self._on_read is not None:
            self._on_read(len(data))
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
