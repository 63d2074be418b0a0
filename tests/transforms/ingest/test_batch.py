"""Batches of lines across files: keys, sizes, and the lines judged before DuckDB reads them."""

import hashlib
import io
from datetime import UTC, datetime

from transforms.contract.wire import TimeWindow
from transforms.ingest.batch import BatchLines, FileTally, batch_input, batches
from transforms.source.discover import ArchiveFile

FILES = [
    ArchiveFile(
        uri=f"/archive/{name}.jsonl", size=1, modified_at=datetime(2026, 11, 17, tzinfo=UTC)
    )
    for name in "abc"
]


class Trickling(io.BytesIO):
    """A stored file that gives at most 100 bytes a read, as a slow store may."""

    def read(self, size: int | None = -1, /) -> bytes:
        return super().read(100 if size is None or size < 0 else min(size, 100))


def test_small_files_share_a_batch_and_a_large_one_fills_several() -> None:
    contents = {
        "/archive/a.jsonl": b'{"n":1}\n\n{"n":2}\n',
        "/archive/b.jsonl": b'{"n":3}',
        "/archive/c.jsonl": b"".join(b'{"n":%d}\n' % n for n in range(200)),
    }
    tallies = [FileTally() for _ in FILES]

    found = list(batches(FILES, lambda file: Trickling(contents[file.uri]), 400, 1 << 20, tallies))
    assert len(found) >= 3
    assert [file_index for file_index, _ in found[0].chunks][:2] == [0, 1]
    readable = batch_input(found[0], {})
    assert readable.keys[:3] == [(0, 1), (0, 3), (1, 1)]
    assert readable.data.startswith(b'{"n":1}\n\n{"n":2}\n{"n":3}\n')
    # where each key's line starts (the blank line 2 of file a is skipped)
    assert readable.starts[:4] == [0, 9, 17, 25]
    assert [(tally.lines, tally.blank) for tally in tallies] == [(3, 1), (1, 0), (200, 0)]
    # the manifest's content hash is of the bytes read, without a second read
    assert [tally.content_sha256 for tally in tallies] == [
        hashlib.sha256(contents[file.uri]).hexdigest() for file in FILES
    ]
    lines = BatchLines(found[0], TimeWindow.of_run(datetime(2026, 11, 24, tzinfo=UTC)))
    assert lines.raw((1, 1)) == b'{"n":3}'


def test_a_cut_off_last_line_is_judged_before_duckdb_reads_the_batch() -> None:
    tallies = [FileTally()]
    (batch,) = batches(
        FILES[:1], lambda _: io.BytesIO(b'{"n":1}\n{"n":'), 1 << 20, 1 << 20, tallies
    )
    rejected: dict[tuple[int, int], str] = {}
    readable = batch_input(batch, rejected)
    assert (readable.data, readable.keys, readable.starts) == (b'{"n":1}\n', [(0, 1)], [0])
    assert rejected == {
        (
            0,
            2,
        ): "truncated: the file ends inside this line (not JSON: EOF while parsing a value at line 1 column 5)"
    }
