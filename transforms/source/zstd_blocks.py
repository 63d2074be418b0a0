"""zstd decompressed a block a call, from a stream cut after each of its blocks (RFC 8878):
fed a block a call, zstd keeps every block before a damaged one, where a call that fails
returns nothing.
"""

from collections.abc import Iterator

import zstandard

from transforms.source.stored import FEED_BYTES, Readable

# zstd's input is cut into blocks of at most 128 KiB: reads of about a block keep it in cache
READ_BYTES = 128 << 10
ZSTD_MAGIC = 0xFD2FB528
# a skippable frame's magic number is any of 16, the low 4 bits free
ZSTD_SKIPPABLE_MAGIC = 0x184D2A50


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


def zstd_decompressed(raw: Readable) -> Iterator[bytes]:
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
