"""Bad input never crashes a run and never vanishes: every bad line lands in `quarantine` with
its file, line and reason, and every file's lines balance."""

import gzip
from pathlib import Path
from typing import Any

import orjson
import zstandard

from tests.conftest import Warehouse, archive_file, fixture_line, ingest_options

STATUS = fixture_line("vendor/status_delivered")
ACCEPTED = fixture_line("vendor/accepted")


def status_with(**fields: Any) -> dict[str, Any]:
    report = {"id": "wamid.X", "status": "read", "timestamp": "1763370000", **fields}
    return {"entry": [{"changes": [{"value": {"statuses": [report]}}]}]}


MIXED: list[bytes] = [
    b"\xef\xbb\xbf" + STATUS,  # 1: a BOM before the first line
    b"",  # 2
    b"   \t",  # 3
    b"not json",  # 4
    b"[1, 2]",  # 5
    b'"just a string"',  # 6
    b'{"entry": "not a list"}',  # 7
    orjson.dumps(status_with(timestamp="yesterday")),  # 8
    b'{"statuses": [{"status": "sent", "timestamp": "1763370000"}]}',  # 9
    b'{"template": {"language": {"code": "en"}}, "key": "whatsapp-t"}',  # 10
    b'{"error": {"code": "abc", "message": "x"}}',  # 11
    b'{"received_at": "soon", "payload": {"error": {"code": 4}}}',  # 12
    orjson.dumps(
        {
            "entry": [
                {
                    "changes": [
                        {
                            "value": {
                                "messages": [
                                    {
                                        "id": "wamid.L",
                                        "from": "1",
                                        "type": "location",
                                        "location": {"latitude": "north"},
                                    }
                                ]
                            }
                        }
                    ]
                }
            ]
        }
    ),  # 13
    ACCEPTED,  # 14
    b'{"foo": 1}',  # 15
    b'{"a": 1}{"b": 2}',  # 16
    b'{"key": "\xff"}',  # 17
    b'{"statuses": [{"id": "x", "status": "sent", "timestamp": NaN}]}',  # 18
    b'{"error": {"code": 123456789012345678901234}}',  # 19
    b'{"key": "whatsapp-dup", "key": "whatsapp-dup-2", "messages": [{"id": "wamid.DUP"}], '
    b'"contacts": [{"wa_id": "1"}]}',  # 20: duplicate keys, the last wins
]
TRUNCATED_TAIL = b'{"entry":[{"changes":['  # 21, the file ends here

EXPECTED_QUARANTINE = [
    (4, "not JSON: expected ident at line 1 column 2"),
    (5, "not a JSON object but a JSON array"),
    (6, "not a JSON object but a JSON string"),
    (7, "invalid event: entry: Input should be a valid list"),
    (
        8,
        "invalid event: entry[0].changes[0].value.statuses[0].timestamp: Value error, expected "
        "unix seconds (up to 12 digits), got str",
    ),
    (9, "invalid event: statuses[0].id: Field required"),
    (10, "invalid event: template.name: Field required"),
    (11, "invalid event: error.code: Value error, expected an integer code, got str"),
    (
        12,
        "invalid event: received_at: Value error, expected an ISO-8601 time or unix seconds, "
        "got str",
    ),
    (
        13,
        "invalid event: entry[0].changes[0].value.messages[0].location.latitude: Value error, "
        "expected a number, got str",
    ),
    (16, "not JSON: trailing characters at line 1 column 9"),
    (17, "not valid UTF-8 (byte 10)"),
    (18, "not JSON: expected value at line 1 column 58"),
    (19, "invalid event: error.code: Value error, expected an integer code, got int"),
    (
        21,
        "truncated: the file ends inside this line (not JSON: EOF while parsing a list at line 1 "
        "column 22)",
    ),
]


def test_every_bad_line_is_quarantined_with_its_line_and_reason(tmp_path: Path, build: Any) -> None:
    archive = tmp_path / "archive"
    path = archive_file(archive, "dt=2025-11-17/hour=10/mixed.jsonl", MIXED)
    path.write_bytes(path.read_bytes() + TRUNCATED_TAIL)
    warehouse: Warehouse = build(archive)

    quarantine = warehouse.rows(
        "select line_no, reason, raw, source_file from quarantine order by line_no"
    )
    assert [(row["line_no"], row["reason"]) for row in quarantine] == EXPECTED_QUARANTINE
    assert {row["source_file"] for row in quarantine} == {str(path)}
    raw = {row["line_no"]: row["raw"] for row in quarantine}
    assert raw[4] == "not json"
    assert raw[17] == '{"key": "\ufffd"}'
    assert raw[21] == TRUNCATED_TAIL.decode()

    assert warehouse.rows("select line_no, reason from unclassified") == [
        {"line_no": 15, "reason": "JSON object of no known event kind (keys: foo)"}
    ]
    (report,) = warehouse.reports
    assert (
        report.lines,
        report.classified,
        report.unclassified,
        report.quarantined,
        report.blank,
    ) == (
        21,
        3,
        1,
        15,
        2,
    )
    assert warehouse.rows(
        "select lines, classified, unclassified, quarantined, blank from ingest_files"
    ) == [{"lines": 21, "classified": 3, "unclassified": 1, "quarantined": 15, "blank": 2}]
    # the good lines around the bad ones are all there
    assert (
        warehouse.value("select count(*) from statuses where message_id = 'wamid.ACCEPTED1'") == 1
    )
    assert warehouse.rows("select key, message_id from accepted order by key") == [
        {"key": "whatsapp-accepted-1", "message_id": "wamid.ACCEPTED1"},
        {"key": "whatsapp-dup-2", "message_id": "wamid.DUP"},
    ]


def test_a_null_line_among_valid_ones_is_quarantined(tmp_path: Path, build: Any) -> None:
    # DuckDB reads `null` as a row of NULLs, like `{}`: only one of them is an object
    archive = tmp_path / "archive"
    archive_file(archive, "dt=2025-11-17/events.jsonl", [STATUS, b"null", b"{}", ACCEPTED])
    warehouse: Warehouse = build(archive)
    assert warehouse.rows("select line_no, reason from quarantine") == [
        {"line_no": 2, "reason": "not a JSON object but a JSON null"}
    ]
    assert warehouse.rows("select line_no, reason from unclassified") == [
        {"line_no": 3, "reason": "JSON object of no known event kind (keys: none)"}
    ]
    assert warehouse.value("select classified from ingest_files") == 2


def test_long_lines_crlf_zstd_and_a_line_over_the_limit(tmp_path: Path, build: Any) -> None:
    archive = tmp_path / "archive"
    long_reply = orjson.dumps(
        {
            "entry": [
                {
                    "changes": [
                        {
                            "value": {
                                "messages": [
                                    {
                                        "id": "wamid.LONG",
                                        "from": "1",
                                        "type": "text",
                                        "text": {"body": "x" * 3_000_000},
                                    }
                                ]
                            }
                        }
                    ]
                }
            ]
        }
    )
    archive_file(archive, "a/long.jsonl", [STATUS, long_reply, ACCEPTED])
    archive_file(archive, "b/crlf.ndjson", [STATUS, b"", ACCEPTED], end=b"\r\n")
    zstd_path = archive / "c" / "events.jsonl.zst"
    zstd_path.parent.mkdir(parents=True)
    zstd_path.write_bytes(zstandard.ZstdCompressor().compress(STATUS + b"\n" + ACCEPTED + b"\n"))
    archive_file(
        archive, "d/oversized.jsonl", [STATUS, b'{"text": "' + b"y" * 5_000_000 + b'"}', ACCEPTED]
    )
    options = ingest_options(chunk_bytes=1 << 20, max_line_bytes=4 << 20)
    warehouse: Warehouse = build(archive, options=options)

    reports = {Path(report.file.uri).name: report for report in warehouse.reports}
    assert {
        name: (r.lines, r.classified, r.quarantined, r.blank) for name, r in reports.items()
    } == {
        "long.jsonl": (3, 3, 0, 0),
        "crlf.ndjson": (3, 2, 0, 1),
        "events.jsonl.zst": (2, 2, 0, 0),
        "oversized.jsonl": (3, 2, 1, 0),
    }
    assert (
        warehouse.value("select length(text_body) from replies where reply_id = 'wamid.LONG'")
        == 3_000_000
    )
    ((line_no, reason),) = warehouse.connection.execute(
        "select line_no, reason from quarantine"
    ).fetchall()
    assert (line_no, reason) == (2, "line of 5000012 bytes exceeds the limit of 4194304 bytes")


def test_a_corrupt_gzip_keeps_the_lines_before_the_damage(tmp_path: Path, build: Any) -> None:
    archive = tmp_path / "archive"
    lines = [orjson.dumps(status_with(id=f"wamid.{index}")) for index in range(2000)]
    whole = gzip.compress(b"".join(line + b"\n" for line in lines))
    path = archive / "cut.jsonl.gz"
    path.parent.mkdir(parents=True)
    path.write_bytes(whole[: len(whole) // 2])
    warehouse: Warehouse = build(archive)

    (report,) = warehouse.reports
    kept = warehouse.value("select count(*) from statuses")
    assert 0 < kept < 2000
    assert report.classified == kept
    assert report.lines == kept + 1
    ((line_no, reason),) = warehouse.connection.execute(
        "select line_no, reason from quarantine"
    ).fetchall()
    assert line_no == kept + 1
    assert reason.startswith("gzip stream is corrupt after ")
    assert reason.endswith("decompressed bytes (EOFError); the rest of the file cannot be read")
