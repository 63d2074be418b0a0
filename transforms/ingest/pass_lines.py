"""The lines of a batch each SQL pass reads: those that may hold its keys (`-- keys:` of
`sql/ingest/<pass>.sql`), picked by a scan of the bytes before DuckDB parses anything.
"""

import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from transforms.ingest.batch import BatchInput


def _key_pattern(keys: tuple[str, ...]) -> str:
    return '"(?:' + "|".join(re.escape(key) for key in keys) + ')"[ \\t\\r\\n]*:'


class PassLines:
    """The lines of a batch as an Arrow array (no copy of the data), to pick for each pass the
    lines that may hold its keys (one of each choice, `declared_keys`). A key is `"name"`
    before a colon; a line with a `\\u` escape may spell a key otherwise, so it goes to every
    pass."""

    def __init__(self, batch: BatchInput) -> None:
        offsets = pa.array([0, *batch.starts[1:], len(batch.data)], pa.int64())
        self.data = batch.data
        self.lines = pa.LargeBinaryArray.from_buffers(
            pa.large_binary(),
            len(batch.keys),
            [None, offsets.buffers()[1], pa.py_buffer(batch.data)],
        )
        self.escaped = pc.match_substring_regex(self.lines, r"\\u")
        self._found: dict[tuple[str, ...], pa.BooleanArray] = {}

    def _holding(self, choices: tuple[tuple[str, ...], ...]) -> pa.BooleanArray:
        first, *others = choices
        if first not in self._found:
            self._found[first] = pc.match_substring_regex(self.lines, _key_pattern(first))
        found = self._found[first]
        for keys in others:
            # only the lines that hold the keys so far are scanned again
            places = pc.indices_nonzero(found)
            inner = pc.match_substring_regex(self.lines.take(places), _key_pattern(keys))
            holding = np.zeros(len(self.lines), dtype=bool)
            holding[places.filter(inner).to_numpy()] = True
            found = pa.array(holding)
        return pc.or_(found, self.escaped)

    def write(self, choices: tuple[tuple[str, ...], ...], target: Path) -> pa.Table:
        """Write the lines that may hold a key of each of `choices` (all lines when there are
        none) to `target`; their positions in the file and ordinals in the batch."""
        if not choices:
            target.write_bytes(self.data)
            ordinals = pa.array(range(1, len(self.lines) + 1), pa.int64())
        else:
            mask = self._holding(choices)
            picked = pc.filter(self.lines, mask)
            ordinals = pc.add(pc.indices_nonzero(mask), 1).cast(pa.int64())
            with target.open("wb") as out:
                if len(picked):
                    offsets = pa.Array.from_buffers(
                        pa.int64(),
                        len(picked) + 1,
                        [None, picked.buffers()[1]],
                        offset=picked.offset,
                    )
                    values = memoryview(picked.buffers()[2])
                    out.write(values[offsets[0].as_py() : offsets[-1].as_py()])
        positions = pa.array(range(1, len(ordinals) + 1), pa.int64())
        return pa.table({"position": positions, "ordinal": ordinals})
