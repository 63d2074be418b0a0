"""The alerts (docs/alerts.md): each kind raised exactly where its rule says, on a warehouse
whose metric rows are written by hand, and the run that first raised an alert kept."""

import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from flows.settings import Tuning
from transforms.contract.schema import table_ddl
from transforms.contract.tables import TABLES
from transforms.publish.alerts import raise_alerts, shown_alerts

AS_OF = datetime(2026, 11, 24, 2, tzinfo=UTC)
DAY = date(2026, 11, 20)  # complete at AS_OF: its end + 24 h is 2026-11-22
FILLING = date(2026, 11, 23)  # still filling at AS_OF


def _day(offset: int) -> date:
    return DAY + timedelta(days=offset)


def _delivery(day: date, sender: str, template: str | None, sent: int, delivered: int) -> tuple:
    # day, sender, template, attempted, accepted, sent, delivered, read, failed, replied, missing
    return (day, sender, template, sent, sent, sent, delivered, 0, sent - delivered, 0, 0)


DELIVERY = [
    # order_update of S: 95 of 100 delivered on each of the 7 days before DAY, 51 of 60 on DAY
    *(_delivery(_day(-offset), "S", "order_update", 100, 95) for offset in range(1, 8)),
    _delivery(DAY, "S", "order_update", 60, 51),  # 85%: exactly 10 points below 95%
    # an older day outside the 7 days before DAY, which would lower the baseline
    _delivery(_day(-8), "S", "order_update", 100, 0),
    # promo of S: 8.3 points below (no alert), and on too few sent (no alert)
    *(_delivery(_day(-offset), "S", "promo", 100, 95) for offset in range(1, 8)),
    _delivery(DAY, "S", "promo", 60, 52),
    *(_delivery(_day(-offset), "S", "tiny", 100, 95) for offset in range(1, 8)),
    _delivery(DAY, "S", "tiny", 49, 10),
    # a day still filling: no alert, however low
    _delivery(FILLING, "S", "order_update", 100, 10),
    # the first day of sender X in the archive
    _delivery(_day(-2), "X", None, 10, 10),
]

ERRORS = [
    # day, sender, template, code, events, messages
    (_day(-3), "S", "order_update", 131026, 2, 2),  # new for S (S has days since -8)
    (DAY, "S", "order_update", 131026, 5, 5),  # seen before: no alert
    (_day(-2), "X", None, 131000, 1, 1),  # on X's first day: no alert
    (DAY, "S", "order_update", 368, 2, 2),  # stop class, two templates: one alert of 3
    (DAY, "S", "promo", 368, 1, 1),
]

CATALOGUE = [
    (368, "Temporarily blocked for policies violations", "account", False, False, "stop"),
    (131026, "Message undeliverable", "recipient", False, False, "suppress"),
    (131000, "Something went wrong", "server", False, True, "retry"),
]

INCIDENTS = [
    # incident_id, sender, started_at, minutes, approximate
    ("long", "S", datetime(2026, 11, 20, 9, tzinfo=UTC), 16.0, False),
    ("rough", "S", datetime(2026, 11, 20, 11, tzinfo=UTC), 20.0, True),
    ("short", "S", datetime(2026, 11, 21, 9, tzinfo=UTC), 15.0, False),
]

RUNS = [
    # run_id, started_at, newest_file_at, stale
    ("r1", datetime(2026, 11, 24, 2, tzinfo=UTC), datetime(2026, 11, 22, 1, tzinfo=UTC), True),
    ("r2", datetime(2026, 11, 24, 5, tzinfo=UTC), datetime(2026, 11, 22, 1, tzinfo=UTC), True),
    ("r3", datetime(2026, 11, 25, 2, tzinfo=UTC), datetime(2026, 11, 25, 1, tzinfo=UTC), False),
]


def _warehouse(path: Path) -> Path:
    connection = duckdb.connect(str(path))
    connection.execute("set TimeZone = 'UTC'")
    for name in ("delivery_daily", "error_breakdown", "error_codes", "rate_limit_incidents"):
        connection.execute(table_ddl(name, TABLES[name]))
    connection.execute(table_ddl("runs", TABLES["runs"]))
    connection.execute(table_ddl("alerts", TABLES["alerts"]))
    connection.executemany(
        "insert into delivery_daily (day, sender, template, attempted, accepted, sent, "
        "delivered, read, failed, replied, report_missing) values (?, ?, ?, ?, ?, ?, ?, ?, ?, "
        "?, ?)",
        DELIVERY,
    )
    connection.executemany(
        "insert into error_breakdown (day, sender, template, code, events, messages, category, "
        "is_rate_limit, retryable) values (?, ?, ?, ?, ?, ?, 'x', false, false)",
        ERRORS,
    )
    connection.executemany("insert into error_codes values (?, ?, ?, ?, ?, ?)", CATALOGUE)
    connection.executemany(
        "insert into rate_limit_incidents (incident_id, sender, started_at, ended_at, "
        "duration_s, events, messages, codes, templates, peak_events_per_minute, approximate) "
        "values (?, ?, ?, ?::timestamptz + to_seconds(?::double * 60), ?::double * 60, 3, 2, "
        "[130429], [], 1, ?)",
        [
            (id_, s, start, start, minutes, minutes, rough)
            for id_, s, start, minutes, rough in INCIDENTS
        ],
    )
    connection.executemany(
        "insert into runs (run_id, started_at, outcome, files_read, lines, quarantined, "
        "unreadable_files, complete, newest_file_at, stale_archive) "
        "values (?, ?, 'published', 0, 0, 0, [], true, ?, ?)",
        RUNS,
    )
    connection.execute("create schema wa_etl_build")
    connection.execute(
        "create table wa_etl_build.info as select $as_of::timestamptz as as_of", {"as_of": AS_OF}
    )
    connection.close()
    return path


def _alerts(path: Path) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(path), read_only=True) as connection:
        return connection.execute(
            "select kind, sender, template, day, code, incident_id, round(value, 4), "
            "round(baseline, 4), threshold, first_raised_run_id from alerts "
            "order by kind, day, sender, template, code, incident_id"
        ).fetchall()


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    return _warehouse(tmp_path / "warehouse.duckdb")


def test_each_kind_is_raised_where_its_rule_says(warehouse: Path) -> None:
    assert raise_alerts(warehouse, None, Tuning().alerts("n1")) == 6
    assert _alerts(warehouse) == [
        ("delivery_drop", "S", "order_update", DAY, None, None, 0.85, 0.95, 0.1, "n1"),
        ("long_incident", "S", None, DAY, None, "long", 16.0, None, 15.0, "n1"),
        ("new_error_code", "S", None, _day(-3), 131026, None, 2.0, None, None, "n1"),
        # 368 is new for S too, the day it is also a stop error
        ("new_error_code", "S", None, DAY, 368, None, 3.0, None, None, "n1"),
        # one a day, by the first stale run of the day
        ("stale_archive", None, None, date(2026, 11, 24), None, None, 49.0, None, 26.0, "r1"),
        ("stop_error", "S", None, DAY, 368, None, 3.0, None, None, "n1"),
    ]


def test_thresholds_are_settings(warehouse: Path) -> None:
    tuning = Tuning(drop_points=8, drop_min_sent=40, long_incident_minutes=16)
    raise_alerts(warehouse, None, tuning.alerts("n1"))
    kinds = [(kind, template) for kind, _, template, *_ in _alerts(warehouse)]
    # promo's 8.3 points and tiny's 49 sent now count; the 16-minute incident no longer does
    assert ("delivery_drop", "promo") in kinds
    assert ("delivery_drop", "tiny") in kinds
    assert ("long_incident", None) not in kinds


def test_an_alert_keeps_the_run_that_first_raised_it(warehouse: Path, tmp_path: Path) -> None:
    raise_alerts(warehouse, None, Tuning().alerts("n1"))
    published = tmp_path / "published.duckdb"
    shutil.copyfile(warehouse, published)
    # the next night: one more stop error, on another day
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute(
            "insert into error_breakdown (day, sender, template, code, events, messages, "
            "category, is_rate_limit, retryable) values ($day, 'S', 'promo', 368, 1, 1, 'x', "
            "false, false)",
            {"day": _day(1)},
        )
    raise_alerts(warehouse, published, Tuning().alerts("n2"))
    raised = {(kind, day): run for kind, _, _, day, *_, run in _alerts(warehouse)}
    assert raised[("stop_error", DAY)] == "n1"
    assert raised[("delivery_drop", DAY)] == "n1"
    assert raised[("stop_error", _day(1))] == "n2"


def test_a_run_shows_the_alerts_of_the_days_it_changed(warehouse: Path) -> None:
    raise_alerts(warehouse, None, Tuning().alerts("n1"))
    shown = shown_alerts(warehouse, [DAY])
    assert [(alert.kind, alert.day) for alert in shown] == [
        ("delivery_drop", DAY),
        ("long_incident", DAY),
        ("new_error_code", DAY),
        ("stop_error", DAY),
    ]
    # a warehouse built anew changed every day; the stale archive is the run's own to show
    assert len(shown_alerts(warehouse, None)) == 5
