"""Line accounting (contract §5): every line of a file ends in exactly one place
(classified, unclassified, quarantined or blank), and a file whose count does not balance
fails loudly (`LineAccountingError`).
"""

import logging

import duckdb
from pydantic import BaseModel

from transforms.ingest.batch import BatchLines, FileTally, LineKey, raw_text
from transforms.ingest.validate import (
    MISMATCH,
    Accepted,
    Rejected,
    collector_paused,
    unclassified_reason,
)
from transforms.source.discover import ArchiveFile
from transforms.sql import run_model

log = logging.getLogger(__name__)


class LineAccountingError(RuntimeError):
    """A file's lines do not add up: a line was lost or counted twice."""


class FileReport(BaseModel):
    """What one archive file yielded; its lines = classified + unclassified + quarantined +
    blank."""

    file: ArchiveFile
    lines: int
    classified: int
    unclassified: int
    quarantined: int
    blank: int
    rows: dict[str, int]
    unreadable: str | None = None
    content_sha256: str | None = None


def explain_invalid(
    connection: duckdb.DuckDBPyConnection,
    lines: BatchLines,
    read_keys: list[LineKey],
    rejected: dict[LineKey, str],
) -> None:
    """The lines the passes found invalid (`invalid_lines`): the passes say why a line the
    models accept is (it has no time), pydantic why the others are."""
    run_model(connection, "ingest/invalid_lines")
    for ordinal, reason in connection.execute(
        "select ordinal, reason from invalid_lines"
    ).fetchall():
        key = read_keys[ordinal - 1]
        if reason is not None:
            rejected[key] = reason
            continue
        judged = lines.verdict(key)
        if isinstance(judged, Accepted):
            log.warning("line %d of file %d: %s", key[1], key[0], MISMATCH)
        rejected[key] = judged.reason if isinstance(judged, Rejected) else MISMATCH


def record_outcomes(
    connection: duckdb.DuckDBPyConnection,
    lines: BatchLines,
    read_keys: list[LineKey],
    tallies: list[FileTally],
    rejected: dict[LineKey, str],
) -> None:
    """Count the classified lines of each file and keep the unclassified ones. A line without
    rows was read by no pass or yielded nothing in the passes that read it: pydantic judges
    it, and quarantines what is not an event."""
    classified = connection.execute(
        "select file_index, count(*) from line_outcomes group by file_index"
    ).fetchall()
    for file_index, count in classified:
        tallies[file_index].classified += count
    ordinals = connection.execute("select ordinal from line_outcomes").fetchall()
    with_rows = {ordinal for (ordinal,) in ordinals}
    without_rows = [
        key
        for ordinal, key in enumerate(read_keys, start=1)
        if ordinal not in with_rows and key not in rejected
    ]
    with collector_paused():
        for key in without_rows:
            judged = lines.verdict(key)
            if isinstance(judged, Rejected):
                rejected[key] = judged.reason
                continue
            raw = lines.raw(key)
            tallies[key[0]].unclassified.append(
                {"line_no": key[1], "reason": unclassified_reason(raw), "raw": raw_text(raw)}
            )


def file_report(file: ArchiveFile, tally: FileTally) -> FileReport:
    """The report of a file from its `tally`; `LineAccountingError` when its lines do not add
    up (those of a file that could not be read to its end need not)."""
    report = FileReport(
        file=file,
        lines=tally.lines,
        classified=tally.classified,
        unclassified=len(tally.unclassified),
        quarantined=len(tally.quarantine),
        blank=tally.blank,
        rows=tally.rows,
        unreadable=tally.unreadable,
        content_sha256=tally.content_sha256,
    )
    balance = report.classified + report.unclassified + report.quarantined + report.blank
    if report.unreadable is None and balance != report.lines:
        raise LineAccountingError(
            f"{file.uri}: {report.lines} lines but {report.classified} classified + "
            f"{report.unclassified} unclassified + {report.quarantined} quarantined + "
            f"{report.blank} blank = {balance}"
        )
    return report
