"""Reading a file as chunks of whole lines: every line numbered and counted, whatever the
line endings, BOMs, blank lines, compression or damage."""

import gzip
import io
from pathlib import Path

import zstandard

from transforms.read import Chunk, Unreadable, decompressed_blocks, pieces


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
