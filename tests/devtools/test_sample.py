"""`wa-etl sample`: a realistic archive, the same for the same seed."""

import hashlib
from pathlib import Path
from typing import Any

import pytest
from pydantic_settings import CliApp

from devtools.sample import SampleSpec, write_sample
from flows.cli import WaEtl
from tests.conftest import Warehouse


def digest(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_the_same_spec_writes_the_same_archive(tmp_path: Path) -> None:
    spec = SampleSpec(messages=150, days=2, seed=4)
    write_sample(tmp_path / "a", spec)
    write_sample(tmp_path / "b", spec)
    write_sample(tmp_path / "c", spec.model_copy(update={"seed": 5}))
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a") != digest(tmp_path / "c")


def test_it_will_not_write_into_a_folder_with_files(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        write_sample(tmp_path, SampleSpec(messages=10, days=1))


def test_the_command_line_writes_a_sample(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    CliApp.run(
        WaEtl,
        cli_args=[
            "sample",
            "--out",
            str(tmp_path / "s"),
            "--messages",
            "30",
            "--days",
            "1",
            "--seed",
            "2",
        ],
    )
    # 30 messages, and 6 in each of 2 rate-limit bursts a day of each of the 4 senders
    assert "for 78 messages to" in capsys.readouterr().out
    assert (tmp_path / "s" / "README.txt").exists()


@pytest.fixture(scope="module")
def sample_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from tests.conftest import warehouse_of

    root = tmp_path_factory.mktemp("sample")
    write_sample(root / "archive", SampleSpec(messages=1500, days=3, seed=7))
    warehouse = warehouse_of(root / "archive", root / "work")
    yield warehouse
    warehouse.close()


def test_the_sample_holds_every_kind_of_event(sample_warehouse: Warehouse) -> None:
    w = sample_warehouse
    for table in ("accepted", "template_sends", "statuses", "replies", "errors"):
        assert w.value(f"select count(*) from {table}") > 0, table
    assert {row["status"] for row in w.rows("select distinct status from statuses")} >= {
        "sent",
        "delivered",
        "read",
        "failed",
    }
    assert {row["api"] for row in w.rows("select distinct api from statuses")} == {
        "cloud",
        "on_premise",
    }
    assert {row["source"] for row in w.rows("select distinct source from errors")} == {
        "api_error",
        "status",
        "reply",
        "webhook",
    }
    assert w.value("select count(distinct type) from replies") >= 12
    assert w.value("select count(*) from replies where context_id is null") > 0
    assert w.value("select count(*) from replies where context_id is not null") > 0
    assert w.value("select count(*) from errors where is_rate_limit") > 10


def test_the_sample_has_the_troubles_of_real_archives(sample_warehouse: Warehouse) -> None:
    w = sample_warehouse
    # keyless batched statuses, found through their wamid
    keyless = sum(1 for _ in w.rows("select 1 from statuses where key is null"))
    assert keyless < w.value("select count(*) from statuses") / 50
    assert (
        w.value(
            "select count(*) from statuses s join accepted a using (message_id) where s.key = a.key"
        )
        > 0
    )
    # duplicates: more landing rows than rows
    landing = sum(report.rows["statuses"] for report in w.reports)
    assert landing > w.value("select count(*) from statuses")
    # late reads: read two days after the message day
    assert w.value("select count(*) from messages where read_at::date > message_day + 1") > 0
    # envelopes and the three layouts and compressions; accepted events without an envelope
    # take their template send's time, or, without one, their folder's
    assert {
        row["event_time_source"]
        for row in w.rows("select distinct event_time_source from accepted")
    } == {"envelope", "message", "path"}
    uris = [report.file.uri for report in w.reports]
    assert any("/sender=" in uri and "/hour=" in uri for uri in uris)
    assert any("/firehose/" in uri for uri in uris)
    assert {report.file.compression for report in w.reports} == {"gzip", "zstd", "none"}
    # a few bad lines: blank, not JSON, not an object, wrong shape, wrong type, truncated
    assert sum(report.blank for report in w.reports) == 1
    reasons = [row["reason"] for row in w.rows("select reason from quarantine order by reason")]
    assert len(reasons) == 5
    assert any(reason.startswith("truncated:") for reason in reasons)
    assert w.value("select count(*) from unclassified") >= 2
