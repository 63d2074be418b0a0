"""The fallback cascade of a batch DuckDB cannot read (contract §5): the lines that are no
JSON object are set aside and the rest read again; if DuckDB still refuses, pydantic judges
every line, and the valid lines are read again as they are, as they parse, in the models'
normal form, and at last one by one. Rejected lines get their reason for the quarantine.
"""

import logging
from collections.abc import Callable
from pathlib import Path

import duckdb
import orjson

from transforms.ingest.batch import BatchInput, BatchLines, LineKey, joined
from transforms.ingest.passes import BatchReadError, run_passes
from transforms.ingest.validate import MISMATCH, Rejected, collector_paused

log = logging.getLogger(__name__)


def _is_json_object(raw: bytes) -> bool:
    """Whether a fast parser reads the line as a JSON object. It refuses a few lines the
    models accept (integers over 64 bits), so its refusals are only suspects."""
    try:
        return isinstance(orjson.loads(raw), dict)
    except orjson.JSONDecodeError:
        return False


def _screened(
    lines: BatchLines, keys: list[LineKey], rejected: dict[LineKey, str]
) -> list[LineKey]:
    """The keys without the lines that are no JSON object at all (pydantic says why): the
    usual reason DuckDB refuses a batch, found here at the cost of a fast parse per line."""
    kept = []
    with collector_paused():
        for key in keys:
            if not _is_json_object(lines.raw(key)):
                judged = lines.verdict(key)
                if isinstance(judged, Rejected):
                    rejected[key] = judged.reason
                    continue
            kept.append(key)
    return kept


def read_batch(
    connection: duckdb.DuckDBPyConnection,
    lines: BatchLines,
    batch: BatchInput,
    scratch: Path,
    rejected: dict[LineKey, str],
) -> list[LineKey]:
    """Read a batch through the passes; returns the keys that were read. If DuckDB cannot
    read it, the lines that are no JSON object are set aside and the rest read again; if
    DuckDB still refuses, pydantic judges every line: the valid lines are read again as they
    are, and if DuckDB still refuses, in the models' normal form, and at last one by one."""
    try:
        run_passes(connection, batch, scratch)
        return batch.keys
    except BatchReadError as failure:
        log.debug("a batch of %d lines is refused: %s", len(batch.keys), failure)
    keys = _screened(lines, batch.keys, rejected)
    if len(keys) < len(batch.keys):
        try:
            run_passes(connection, joined([lines.raw(key) for key in keys], keys), scratch)
            log.debug("the batch was read without its %d non-objects", len(batch.keys) - len(keys))
            return keys
        except BatchReadError:
            pass
    log.debug("a batch of %d lines falls back to pydantic", len(keys))
    # only which lines are valid is kept: a validated line is many objects, a batch many lines
    valid: list[LineKey] = []
    with collector_paused():
        for key in keys:
            judged = lines.verdict(key)
            if isinstance(judged, Rejected):
                rejected[key] = judged.reason
            else:
                valid.append(key)
    # the models' normal form loses the fields they do not know (from `payload_json`):
    # only when the lines written again as they parse are refused too
    forms: dict[str, Callable[[LineKey], bytes]] = {
        "as they are": lines.raw,
        "as they parse": lines.reparsed,
        "in normal form": lines.normalized,
    }
    for form_name, form in forms.items():
        try:
            run_passes(connection, joined([form(key) for key in valid], valid), scratch)
            log.debug("the %d valid lines of the batch were read %s", len(valid), form_name)
            return valid
        except BatchReadError:
            continue
    readable = []
    for key in valid:
        try:
            run_passes(connection, joined([lines.normalized(key)], [key]), scratch)
            readable.append(key)
        except BatchReadError:
            rejected[key] = MISMATCH
    normal = [lines.normalized(key) for key in readable]
    run_passes(connection, joined(normal, readable), scratch)
    return readable
