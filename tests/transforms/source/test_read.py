"""Reading a file as chunks of whole lines: every line numbered and counted, whatever the
line endings, BOMs, blank lines, compression or damage."""

import gzip
import hashlib
import io
import random
import zlib
from contextlib import suppress
from functools import cache
from pathlib import Path
from string import ascii_lowercase

import pytest
import zstandard

from transforms.source.read import OUTPUT_BYTES, Chunk, Unreadable, decompressed_blocks, pieces
from transforms.source.stored import HashingReader


def chunks_of(
    data: bytes, chunk_bytes: int = 1 << 20, max_line_bytes: int = 1 << 20, block: int = 7
) -> list[Chunk | Unreadable]:
    """Cut `data`, delivered in blocks of `block` bytes (so that lines span blocks)."""
    blocks = [data[start : start + block] for start in range(0, len(data), block)]
    return list(pieces(iter(blocks), chunk_bytes, max_line_bytes))


def test_lines_are_numbered_and_blank_lines_counted() -> None:
    (chunk,) = chunks_of(b'{"a":1}\n\n   \n{"b":2}\r\n\t\r\n{"c":3}\n')
    assert isinstance(chunk, Chunk)
    assert chunk.first_line_no == 1
    assert len(chunk.lines) == 6
    assert chunk.nonblank == [1, 4, 6]
    assert chunk.blank == 3
    assert chunk.line(4) == b'{"b":2}\r'
    assert not chunk.unterminated


def test_a_last_line_without_newline_is_a_line() -> None:
    (chunk,) = chunks_of(b'{"a":1}\n{"b":2}')
    assert isinstance(chunk, Chunk)
    assert (len(chunk.lines), chunk.nonblank, chunk.unterminated) == (2, [1, 2], True)
    assert chunks_of(b"") == []
    (only_newline,) = chunks_of(b"\n")
    assert isinstance(only_newline, Chunk)
    assert (len(only_newline.lines), only_newline.blank) == (1, 1)


def test_byte_order_marks_at_line_starts_are_dropped() -> None:
    (chunk,) = chunks_of(b'\xef\xbb\xbf{"a":1}\n\xef\xbb\xbf\n{"b":"\xef\xbb\xbf inside"}\n')
    assert isinstance(chunk, Chunk)
    assert chunk.lines == [b'{"a":1}', b"", b'{"b":"\xef\xbb\xbf inside"}']
    assert chunk.nonblank == [1, 3]
    (only_bom,) = chunks_of(b"\xef\xbb\xbf")
    assert isinstance(only_bom, Chunk)
    assert (only_bom.lines, only_bom.blank, only_bom.unterminated) == ([b""], 1, True)


def test_chunks_hold_whole_lines_and_continue_the_numbering() -> None:
    data = b"".join(b'{"n":%d}\n' % n for n in range(1, 101))
    pieces_ = chunks_of(data, chunk_bytes=100, block=64)
    assert all(isinstance(piece, Chunk) for piece in pieces_)
    assert len(pieces_) > 5
    numbered = [
        (line_no, piece.line(line_no))
        for piece in pieces_
        if isinstance(piece, Chunk)
        for line_no in piece.nonblank
    ]
    assert numbered == [(n, b'{"n":%d}' % n) for n in range(1, 101)]


def test_lines_over_the_limit_are_not_read_but_counted() -> None:
    data = b'{"a":1}\n' + b"x" * 300 + b'\n{"b":2}\n' + b"y" * 50 + b"\n"
    # the long line arrives in several blocks with no newline: it is skipped while streaming
    streamed = chunks_of(data, chunk_bytes=64, max_line_bytes=100, block=40)
    unreadable = [piece for piece in streamed if isinstance(piece, Unreadable)]
    assert [(piece.line_no, piece.reason) for piece in unreadable] == [
        (2, "line of 300 bytes exceeds the limit of 100 bytes")
    ]
    # the head read before the limit was passed is kept for the quarantine
    assert set(unreadable[0].raw) == {ord("x")}
    assert 100 < len(unreadable[0].raw) <= 300
    lines = [no for piece in streamed if isinstance(piece, Chunk) for no in piece.nonblank]
    assert lines == [1, 3, 4]
    # a long line that arrives whole within a chunk is flagged in the chunk
    (chunk,) = chunks_of(data, chunk_bytes=1 << 20, max_line_bytes=100, block=1 << 20)
    assert isinstance(chunk, Chunk)
    assert chunk.oversized == {2: "line of 300 bytes exceeds the limit of 100 bytes"}


def test_gzip_with_several_members_and_zstd_with_several_frames() -> None:
    payload = [b'{"n":%d}\n' % n for n in range(1000)]
    members = gzip.compress(b"".join(payload[:500])) + gzip.compress(b"".join(payload[500:]))
    assert b"".join(decompressed_blocks(io.BytesIO(members), "gzip")) == b"".join(payload)
    compressor = zstandard.ZstdCompressor()
    frames = compressor.compress(b"".join(payload[:300])) + compressor.compress(
        b"".join(payload[300:])
    )
    assert b"".join(decompressed_blocks(io.BytesIO(frames), "zstd")) == b"".join(payload)


def test_a_cut_gzip_delivers_everything_before_the_cut_then_one_unreadable_piece(
    tmp_path: Path,
) -> None:
    data = b"".join(b'{"n":%d}\n' % n for n in range(5000))
    whole = gzip.compress(data)
    cut = whole[: len(whole) * 2 // 3]
    result = list(pieces(decompressed_blocks(io.BytesIO(cut), "gzip"), 1 << 20, 1 << 20))
    *chunks, last = result
    assert isinstance(last, Unreadable)
    lines = [
        chunk.line(no) for chunk in chunks if isinstance(chunk, Chunk) for no in chunk.nonblank
    ]
    assert lines == [b'{"n":%d}' % n for n in range(len(lines))]
    assert len(lines) > 2000
    assert last.line_no == len(lines) + 1
    assert data.startswith(b"".join(line + b"\n" for line in lines) + last.raw)
    assert last.reason.startswith("gzip stream is corrupt after ")


def test_garbage_that_is_not_gzip_is_one_unreadable_piece() -> None:
    result = list(
        pieces(
            decompressed_blocks(io.BytesIO(b"this is not gzip at all"), "gzip"), 1 << 20, 1 << 20
        )
    )
    assert len(result) == 1
    assert isinstance(result[0], Unreadable)
    assert result[0].line_no == 1
    assert "(error)" in result[0].reason


FLUSH_EVERY = 250_001


class Trickling(io.BytesIO):
    """A stored file that gives at most 1,000 bytes a read, as a slow store may."""

    def read(self, size: int | None = -1, /) -> bytes:
        return super().read(1000 if size is None or size < 0 else min(size, 1000))


@cache
def webhook_lines() -> bytes:
    """About 3 MB of webhook-like JSON lines, from 50 bytes to 4 KB long."""
    rng = random.Random(20261205)
    words = ["".join(rng.choices(ascii_lowercase, k=rng.randint(1, 9))) for _ in range(40)]
    lines = []
    size = 0
    while size < 3 << 20:
        said = rng.choices(words, k=rng.choice((0, 1, 4, 12, 30, 90, 300, rng.randrange(700))))
        key = rng.getrandbits(64)
        lines.append(
            b'{"key":"whatsapp-%016x","n":%d,"text":"%s"}\n'
            % (key, len(lines) + 1, " ".join(said).encode())
        )
        size += len(lines[-1])
    return b"".join(lines)


def gzip_member(data: bytes, at: int, plain_at: int) -> tuple[bytes, list[tuple[int, int]]]:
    """`data` as one gzip member, fully flushed every `FLUSH_EVERY` bytes, and where each flush
    is in the compressed and in the plain file (the member starting at `at`, `plain_at`)."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
    member = bytearray()
    flushes = []
    for start in range(0, len(data), FLUSH_EVERY):
        member += compressor.compress(data[start : start + FLUSH_EVERY])
        if start + FLUSH_EVERY < len(data):
            member += compressor.flush(zlib.Z_FULL_FLUSH)
            flushes.append((at + len(member), plain_at + start + FLUSH_EVERY))
    return bytes(member + compressor.flush()), flushes


@cache
def gzip_members() -> tuple[bytes, list[tuple[int, int]], list[tuple[int, int]]]:
    """The lines as two gzip members (cut mid-line), with the flushes of each. After a flush a
    new deflate block starts on a byte of its own, where damage is found at once: inside a
    block, zlib reads damage as valid codes until the member's check."""
    data = webhook_lines()
    split = len(data) * 3 // 5
    first, first_flushes = gzip_member(data[:split], 0, 0)
    second, second_flushes = gzip_member(data[split:], len(first), split)
    return first + second, first_flushes, second_flushes


@cache
def zstd_frames() -> tuple[bytes, int]:
    """The lines as two zstd frames (cut mid-line), and where the second starts."""
    data = webhook_lines()
    split = len(data) * 3 // 5
    compressor = zstandard.ZstdCompressor()
    first = compressor.compress(data[:split])
    return first + compressor.compress(data[split:]), len(first)


def gunzipped_a_byte_a_call(compressed: bytes) -> bytes:
    """What zlib gives before an error when fed one byte a call, a new decompressor a member."""
    output = bytearray()
    decompressor = zlib.decompressobj(wbits=31)
    with suppress(zlib.error):
        for index in range(len(compressed)):
            if decompressor.eof:
                decompressor = zlib.decompressobj(wbits=31)
            output += decompressor.decompress(compressed[index : index + 1])
    return bytes(output)


def zstd_blocks_a_byte_a_call(compressed: bytes) -> bytes:
    """What zstd gives before an error when fed one byte a call: every block before the
    damaged one (zstd decodes whole blocks)."""
    output = bytearray()
    decompressor = zstandard.ZstdDecompressor().decompressobj(read_across_frames=True)
    with suppress(zstandard.ZstdError):
        for index in range(len(compressed)):
            output += decompressor.decompress(compressed[index : index + 1])
    return bytes(output)


def broken(data: bytes, at: int, garbage: bytes) -> bytes:
    return data[:at] + garbage + data[at + len(garbage) :]


def damaged_gzip(case: str) -> bytes:
    whole, first_flushes, second_flushes = gzip_members()
    # a byte whose low bits say "final block of the reserved type 3", at a block's start
    at = {
        "early": first_flushes[0][0],
        "middle": first_flushes[len(first_flushes) // 2][0],
        "in the second member": second_flushes[0][0],
        "late": second_flushes[-1][0],
    }.get(case)
    # "cut off": the file ends inside the second member
    return whole[: len(whole) - 54_321] if at is None else broken(whole, at, b"\xff")


def damaged_zstd(case: str) -> bytes:
    whole, second = zstd_frames()
    garbage = bytes(range(0xA0, 0xB0))
    if case == "a block header":
        # the second frame's first block header, made of the reserved block type 3
        at = second + zstandard.frame_header_size(whole[second:])
        return broken(whole, at, bytes([whole[at] | 0b110]))
    if case == "cut off":
        return whole[: len(whole) - 54_321]
    at = {
        "early": second // 12,
        "middle": second // 2,
        "in the second frame": second + (len(whole) - second) // 5,
        "late": len(whole) - 3000,
    }[case]
    return broken(whole, at, garbage)


def assert_read_up_to(compressed: bytes, compression: str, before_damage: bytes) -> None:
    """The file reads as every line of `before_damage`, then one unreadable piece with the
    rest of it, on the next line number."""
    *chunks, unreadable = pieces(
        decompressed_blocks(io.BytesIO(compressed), compression), 256 << 10, 1 << 20
    )
    assert isinstance(unreadable, Unreadable)
    lines = [line for chunk in chunks if isinstance(chunk, Chunk) for line in chunk.lines]
    *complete, partial = before_damage.split(b"\n")
    assert len(lines) == before_damage.count(b"\n")
    assert lines == complete
    assert (unreadable.line_no, unreadable.raw) == (len(complete) + 1, partial)
    assert unreadable.reason.startswith(
        f"{compression} stream is corrupt after {len(before_damage)} decompressed bytes"
    )
    # the lines balance: each line kept, and the rest of the file as one line
    counted = sum(chunk.count for chunk in chunks if isinstance(chunk, Chunk))
    assert counted + 1 == unreadable.line_no


@pytest.mark.parametrize("case", ["early", "middle", "in the second member", "late", "cut off"])
def test_a_damaged_gzip_keeps_every_line_before_the_damage(case: str) -> None:
    data = webhook_lines()
    damaged = damaged_gzip(case)
    before_damage = gunzipped_a_byte_a_call(damaged)
    # the damage is found where it is: all before it is the plain file's
    assert data.startswith(before_damage)
    assert before_damage.count(b"\n") > 100
    _, first_flushes, second_flushes = gzip_members()
    if case != "cut off":
        # found at once: the output ends at the damaged block's start
        assert len(before_damage) in {plain_at for _, plain_at in first_flushes + second_flushes}
    assert_read_up_to(damaged, "gzip", before_damage)


def test_gzip_damage_read_as_valid_codes_is_found_at_the_members_check() -> None:
    """Inside a deflate block zlib decodes garbage as data: only the member's CRC finds the
    damage, so the member is delivered as zlib decodes it, up to its check."""
    data = webhook_lines()
    whole, first_flushes, _ = gzip_members()
    at, plain_at = first_flushes[2]
    damaged = broken(whole, at + 5000, bytes(range(0xA0, 0xB0)))
    before_damage = gunzipped_a_byte_a_call(damaged)
    # the lines before the damaged block are whole; the garbage after it is delivered too
    intact = data[:plain_at].count(b"\n")
    assert before_damage.split(b"\n")[:intact] == data.split(b"\n")[:intact]
    assert not data.startswith(before_damage)
    assert_read_up_to(damaged, "gzip", before_damage)


@pytest.mark.parametrize(
    "case", ["early", "middle", "in the second frame", "a block header", "late", "cut off"]
)
def test_a_damaged_zstd_keeps_every_block_before_the_damaged_one(case: str) -> None:
    data = webhook_lines()
    damaged = damaged_zstd(case)
    before_damage = zstd_blocks_a_byte_a_call(damaged)
    assert data.startswith(before_damage)
    assert before_damage.count(b"\n") > 100
    assert_read_up_to(damaged, "zstd", before_damage)


def test_zstd_frames_of_every_form_come_out_whole_a_block_a_call() -> None:
    lines = webhook_lines()[: 1 << 20]
    parts = [lines[:300_000], b"\0" * 500_000, lines[300_000:]]
    streamed = zstandard.ZstdCompressor().compressobj()
    skippable = (0x184D2A53).to_bytes(4, "little") + (5000).to_bytes(4, "little") + b"s" * 5000
    frames = (
        zstandard.ZstdCompressor(write_checksum=True).compress(parts[0])
        + skippable
        + zstandard.ZstdCompressor(write_content_size=False).compress(parts[1])
        + streamed.compress(parts[2])
        + streamed.flush()
    )
    blocks = list(decompressed_blocks(Trickling(frames), "zstd"))
    assert b"".join(blocks) == b"".join(parts)
    # zstd's blocks hold at most 128 KiB: more in one call would be two blocks
    assert max(len(block) for block in blocks) == 128 << 10


def test_a_pathological_ratio_comes_out_in_bounded_blocks() -> None:
    zeros = b"\0" * (64 << 20)
    gzipped = zlib.compress(zeros, 1, wbits=31)
    zstd = zstandard.ZstdCompressor().compress(zeros)
    assert len(gzipped) < 1 << 20 and len(zstd) < 1 << 20
    for compressed, compression, most in (
        (gzipped, "gzip", OUTPUT_BYTES),
        (zstd, "zstd", 128 << 10),
    ):
        sizes = [len(block) for block in decompressed_blocks(io.BytesIO(compressed), compression)]
        assert sum(sizes) == len(zeros)
        assert max(sizes) <= most


def test_the_content_hash_of_a_damaged_file_covers_all_of_it() -> None:
    for damaged, compression in (
        (damaged_gzip("middle"), "gzip"),
        (damaged_zstd("middle"), "zstd"),
    ):
        hashing = HashingReader(Trickling(damaged))
        *_, unreadable = pieces(decompressed_blocks(hashing, compression), 1 << 20, 1 << 20)
        assert isinstance(unreadable, Unreadable)
        # the bytes after the damage are read for the hash, not lost with the stream
        assert hashing.sha256_of_all() == hashlib.sha256(damaged).hexdigest()
