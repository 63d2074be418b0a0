"""A night that adds files updates the previous warehouse (transforms/build/warehouse.py, sql/increment):
after every night, every table of the updated warehouse equals a full build from the same
state, row for row; and the update rewrites only the days the new events touch."""

import shutil
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devtools.sample import SampleSpec, write_sample
from flows.settings import Tuning
from tests.conftest import archive_file, fixture_line, ingest_options
from tests.payloads import accepted, api_error, envelope, iso, reply, status, template_send
from transforms.build.changes import Changes
from transforms.build.warehouse import build_warehouse
from transforms.contract.pricing import PricingFiles
from transforms.contract.tables import TABLES
from transforms.ingest.flatten import ingest_files
from transforms.source.discover import local_listing
from transforms.source.stored import open_local
from transforms.sql import Limits
from transforms.state.store import (
    ReadPlan,
    ingest_file_rows,
    merge_run,
    open_state,
    run_landing_files,
)

Rows = dict[str, list[tuple[object, ...]]]


def read_night(work: Path, archive: Path, night: int) -> datetime:
    """Read the files of `archive` the state has not read yet into the state, as one night's
    run does; when the night started."""
    started = datetime(2026, 11, 17, 3, tzinfo=UTC) + timedelta(days=night)
    state = open_state(work / "state.duckdb", limits=Limits(threads=2, memory_limit="1GB"))
    try:
        known = {uri for (uri,) in state.execute("select uri from manifest").fetchall()}
        listed = local_listing(archive).files
        files = [file for file in listed if file.uri not in known]
        run = work / f"run-{night}"
        (run / "scratch").mkdir(parents=True)
        reports = ingest_files(
            files, open_local, run / "landing", run / "scratch", "p", started, ingest_options()
        )
        merge_run(
            state,
            run_landing_files(run / "landing"),
            ingest_file_rows(reports, f"run-{night}", started),
            ReadPlan(read=files, unchanged=len(known), vanished=[]),
            [file.uri for file in listed],
            started,
        )
    finally:
        state.close()
    return started


def tables(database: Path) -> Rows:
    with duckdb.connect(str(database), read_only=True) as connection:
        return {
            name: sorted(connection.execute(f"from {name}").fetchall(), key=repr) for name in TABLES
        }


def link_hashes(database: Path) -> set[int]:
    with duckdb.connect(str(database), read_only=True) as connection:
        return {link for (link,) in connection.execute("from wa_etl_build.link_hashes").fetchall()}


def nights_updated_and_built_anew(
    work: Path, archive: Path, night: int
) -> tuple[Changes | None, Rows]:
    """Read the night's new files, update the previous warehouse and build one anew; assert
    both hold the same rows, and that the updated warehouse's link hashes hold every hash of
    the full build's; what the update did, and the rows."""
    started = read_night(work, archive, night)
    settings = Tuning().build(started)
    updated, anew = work / f"updated-{night}.duckdb", work / f"anew-{night}.duckdb"
    previous = work / f"updated-{night - 1}.duckdb"
    built = build_warehouse(updated, work / "state.duckdb", settings, previous)
    build_warehouse(anew, work / "state.duckdb", settings)
    rows = tables(updated)
    assert rows == tables(anew)
    assert link_hashes(anew) <= link_hashes(updated)
    if built is not None:
        assert_added_rows_complete_their_days(previous, updated, built)
    return built, rows


def assert_added_rows_complete_their_days(previous: Path, updated: Path, built: Changes) -> None:
    """On each day an update reports it only added to, the updated table's rows are the
    previous warehouse's rows of that day and the rows it kept as added, no more, no less
    (what the export appends to the previous partition); it keeps no added row of another
    day, and the days it only added to are days it changed."""
    with duckdb.connect(str(updated), read_only=True) as connection:
        connection.execute("set TimeZone = 'UTC'")
        connection.execute(f"attach '{previous}' as previous (read_only)")
        for table, days in built.appended_days.items():
            assert set(days) <= set(built.changed_days[table])
            day = TABLES[table].day_column
            added_days = connection.execute(
                f"select distinct {day}::date from wa_etl_build.added_{table} order by 1"
            ).fetchall()
            assert [added for (added,) in added_days] == days
            on_days = f"where {day}::date in (select unnest($days::date[]))"
            before_and_added = (
                f"(from previous.{table} {on_days}) union all (from wa_etl_build.added_{table})"
            )
            after = f"from {table} {on_days}"
            for left, right in ((before_and_added, after), (after, before_and_added)):
                assert connection.execute(
                    f"select count(*) from (({left}) except all ({right}))", {"days": days}
                ).fetchall() == [(0,)]


def test_nights_of_the_sample_update_to_what_a_full_build_gives(tmp_path: Path) -> None:
    sample = tmp_path / "sample"
    write_sample(sample, SampleSpec(messages=400, days=4, seed=5))
    files = local_listing(sample).files
    arrival = sorted({file.hints.arrival_day for file in files if file.hints.arrival_day})
    assert len(arrival) >= 4
    archive = tmp_path / "archive"
    for night, last_day in enumerate(arrival, start=1):
        for file in files:
            day = file.hints.arrival_day
            if (day is None and night == 1) or (day is not None and day <= last_day):
                target = archive / Path(file.uri).relative_to(sample)
                if not target.exists():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(file.uri, target)
        built, rows = nights_updated_and_built_anew(tmp_path, archive, night)
        assert (built is not None) == (night > 1)
        if night == len(arrival):
            assert rows["messages"] and rows["delivery_daily"]
            # the newest day's files leave the oldest days' statuses alone
            with duckdb.connect(str(tmp_path / f"updated-{night}.duckdb")) as warehouse:
                ((first_day,),) = warehouse.execute(
                    "select min(event_time)::date from statuses"
                ).fetchall()
            assert first_day not in built.changed_days["statuses"]
            assert built.changed_days["statuses"]


SENDER_FILE = "sender=15550100001/dt={}/{}.jsonl"


def test_late_links_replies_copies_and_the_moving_as_of_update_the_right_rows(
    tmp_path: Path,
) -> None:
    archive = tmp_path / "archive"
    archive_file(
        archive,
        SENDER_FILE.format("2026-11-17", "b-night-1"),
        [
            # a: sent to the customer at 09:00, who writes back without context at 10:00
            envelope(template_send("whatsapp-a", "2026-11-17 09:00"), iso("2026-11-17 09:00")),
            envelope(accepted("whatsapp-a", "wamid.A"), iso("2026-11-17 09:00:01")),
            status("wamid.A", "sent", "2026-11-17 09:00:05", "whatsapp-a"),
            status("wamid.A", "delivered", "2026-11-17 09:00:09", "whatsapp-a"),
            reply("wamid.R1", "2026-11-17 10:00"),
            # c: sent and never heard of again: report_missing once as_of is a day later
            envelope(accepted("whatsapp-c", "wamid.C", "491700000003"), iso("2026-11-17 08:00")),
            status(
                "wamid.C", "sent", "2026-11-17 08:00:05", "whatsapp-c", recipient="491700000003"
            ),
            # d: known by its wamid only, until its accepted event arrives
            status("wamid.D", "sent", "2026-11-17 07:00", recipient="491700000004"),
            # f: sent to another customer, and answered in context by yet another
            envelope(accepted("whatsapp-f", "wamid.F", "491700000006"), iso("2026-11-17 12:59")),
            status("wamid.F", "sent", "2026-11-17 13:00", "whatsapp-f", recipient="491700000006"),
            fixture_line("spec/webhook_error"),
            envelope(api_error("whatsapp-e", 131056), iso("2026-11-17 12:00")),
        ],
    )
    built, first = nights_updated_and_built_anew(tmp_path, archive, 1)
    assert built is None
    archive_file(
        archive,
        SENDER_FILE.format("2026-11-18", "b-night-2"),
        [
            # b: a later message to the same customer, sent before the reply: the reply is b's
            envelope(template_send("whatsapp-b", "2026-11-17 09:30"), iso("2026-11-17 09:30")),
            envelope(accepted("whatsapp-b", "wamid.B"), iso("2026-11-17 09:30:01")),
            envelope(accepted("whatsapp-d", "wamid.D", "491700000004"), iso("2026-11-17 06:59")),
            status("wamid.B", "read", "2026-11-18 09:00", "whatsapp-b"),
            envelope(api_error("whatsapp-e", 130429), iso("2026-11-18 12:00")),
        ],
    )
    # replies to messages no new event touches: without context (c), in context (f)
    archive_file(
        archive,
        SENDER_FILE.format("2026-11-18", "c-replies"),
        [
            reply("wamid.R2", "2026-11-17 20:00", customer="491700000003"),
            reply("wamid.R3", "2026-11-18 08:00", context="wamid.F", customer="491700000099"),
        ],
    )
    # a copy of a's sent status in a file that sorts first: the copy that counts moves
    archive_file(
        archive,
        SENDER_FILE.format("2026-11-17", "a-copy"),
        [status("wamid.A", "sent", "2026-11-17 09:00:05", "whatsapp-a")],
    )
    built, second = nights_updated_and_built_anew(tmp_path, archive, 2)
    assert built is not None
    with duckdb.connect(str(tmp_path / "updated-2.duckdb"), read_only=True) as warehouse:
        messages = {
            key: (replied, report_missing)
            for key, replied, report_missing in warehouse.execute(
                "select key, replied, report_missing from messages"
            ).fetchall()
        }
        sent_from = warehouse.execute(
            "select source_file from statuses where message_id = 'wamid.A' and status = 'sent'"
        ).fetchall()
    assert messages == {
        "whatsapp-a": (False, False),
        "whatsapp-b": (True, False),
        "whatsapp-c": (True, True),
        "whatsapp-d": (False, True),
        "whatsapp-e": (False, False),
        "whatsapp-f": (True, False),
    }
    assert [Path(str(uri)).name for (uri,) in sent_from] == ["a-copy.jsonl"]
    assert len(second["errors"]) == len(first["errors"]) + 1
    # the day the new events and the moved as_of touch, not the others
    assert built.changed_days["messages"] == [date(2026, 11, 17)]
    # e's error of the 17th and the webhook error (of no message) are rebuilt, but the same:
    # only the new error's day changed
    assert built.changed_days["errors"] == [date(2026, 11, 18)]
    assert built.changed_days["error_breakdown"] == [date(2026, 11, 18)]
    assert built.changed_days["replies"] == [date(2026, 11, 17), date(2026, 11, 18)]


CBP_UTILITY = {"billable": True, "pricing_model": "CBP", "category": "utility"}
PMP_MARKETING = {
    "billable": True,
    "pricing_model": "PMP",
    "category": "marketing",
    "type": "regular",
}


def test_a_conversation_charged_once_moves_its_charge_when_an_earlier_delivery_arrives(
    tmp_path: Path,
) -> None:
    """Under conversation pricing only the conversation's first delivered message is charged
    (contract §8): a late file with a message of the same conversation delivered earlier takes
    the charge from a message no new event names, and an update must rebuild that one too."""
    archive = tmp_path / "archive"

    def message(key: str, wamid: str, delivered: str) -> list[dict[str, Any]]:
        return [
            envelope(template_send(key, "2026-11-17 09:00"), iso("2026-11-17 09:00")),
            envelope(accepted(key, wamid), iso("2026-11-17 09:00:01")),
            status(
                wamid, "sent", "2026-11-17 09:00:05", key, pricing=CBP_UTILITY, conversation="C1"
            ),
            status(wamid, "delivered", delivered, key, pricing=CBP_UTILITY, conversation="C1"),
        ]

    archive_file(
        archive,
        SENDER_FILE.format("2026-11-17", "night-1"),
        [
            *message("whatsapp-x", "wamid.X", "2026-11-17 10:05"),
            # a message priced per message: charged on its own, whatever else arrives
            envelope(template_send("whatsapp-p", "2026-11-17 09:00"), iso("2026-11-17 09:00")),
            status(
                "wamid.P",
                "delivered",
                "2026-11-17 09:10",
                "whatsapp-p",
                pricing={
                    "billable": True,
                    "pricing_model": "PMP",
                    "category": "marketing",
                    "type": "regular",
                },
            ),
        ],
    )
    nights_updated_and_built_anew(tmp_path, archive, 1)
    archive_file(
        archive,
        SENDER_FILE.format("2026-11-18", "night-2"),
        message("whatsapp-y", "wamid.Y", "2026-11-17 10:00"),
    )
    built, _ = nights_updated_and_built_anew(tmp_path, archive, 2)
    assert built is not None
    with duckdb.connect(str(tmp_path / "updated-2.duckdb"), read_only=True) as warehouse:
        costs = dict(warehouse.execute("select key, cost::varchar from messages").fetchall())
        daily = warehouse.execute(
            "select pricing_category, billable, cost::varchar from cost_daily order by 1"
        ).fetchall()
    # the shipped card: Turkey's utility and marketing rates in force in November 2026
    assert costs == {"whatsapp-x": "0.000000", "whatsapp-y": "0.005300", "whatsapp-p": "0.010900"}
    assert daily == [("marketing", 1, "0.010900"), ("utility", 2, "0.005300")]
    assert built.changed_days["cost_daily"] == [date(2026, 11, 17)]


def test_a_key_only_a_dropped_copy_holds_brings_the_copy_that_counts(tmp_path: Path) -> None:
    """Two copies of one status, the one that counts without a key (its file sorts first):
    the warehouse knows whatsapp-g by its error alone, so a new error of whatsapp-g finds the
    dropped copy among the landing rows, which must bring the copy that counts with it (or
    that copy would count twice); a night of a new message alone takes nothing out."""
    archive = tmp_path / "archive"
    archive_file(
        archive,
        SENDER_FILE.format("2026-11-17", "a-keyless"),
        [status("wamid.G", "sent", "2026-11-17 09:00")],
    )
    archive_file(
        archive,
        SENDER_FILE.format("2026-11-17", "b-keyed"),
        [
            status("wamid.G", "sent", "2026-11-17 09:00", "whatsapp-g"),
            envelope(api_error("whatsapp-g", 131056), iso("2026-11-17 09:01")),
        ],
    )
    nights_updated_and_built_anew(tmp_path, archive, 1)
    archive_file(
        archive,
        SENDER_FILE.format("2026-11-18", "c-error"),
        [envelope(api_error("whatsapp-g", 130429), iso("2026-11-18 09:00"))],
    )
    built, rows = nights_updated_and_built_anew(tmp_path, archive, 2)
    assert built is not None
    with duckdb.connect(str(tmp_path / "updated-2.duckdb"), read_only=True) as warehouse:
        counted = warehouse.execute("select key, source_file from statuses").fetchall()
    assert [(key, Path(str(uri)).name) for key, uri in counted] == [(None, "a-keyless.jsonl")]
    assert built.changed_days["errors"] == [date(2026, 11, 18)]
    assert built.changed_days["statuses"] == []
    archive_file(
        archive,
        SENDER_FILE.format("2026-11-19", "d-new"),
        [
            envelope(accepted("whatsapp-n", "wamid.N"), iso("2026-11-19 09:00")),
            status("wamid.N", "sent", "2026-11-19 09:00:05", "whatsapp-n"),
        ],
    )
    built, rows = nights_updated_and_built_anew(tmp_path, archive, 3)
    assert built is not None
    assert len(rows["statuses"]) == 2
    assert built.changed_days["statuses"] == [date(2026, 11, 19)]
    assert built.changed_days["errors"] == []


def test_a_message_an_update_built_is_found_by_the_next_update(tmp_path: Path) -> None:
    """The update adds the keys and wamids of the rows it puts back to the warehouse's link
    hashes: a message first built by an update (b, night 2) is found by the next one, whose
    status names it by its wamid alone, and its row is taken out and rebuilt."""
    archive = tmp_path / "archive"
    archive_file(
        archive,
        SENDER_FILE.format("2026-11-17", "a"),
        [
            envelope(accepted("whatsapp-a", "wamid.A"), iso("2026-11-17 09:00")),
            status("wamid.A", "sent", "2026-11-17 09:00:05", "whatsapp-a"),
        ],
    )
    nights_updated_and_built_anew(tmp_path, archive, 1)
    archive_file(
        archive,
        SENDER_FILE.format("2026-11-18", "b"),
        [envelope(accepted("whatsapp-b", "wamid.B"), iso("2026-11-18 09:00"))],
    )
    built, _ = nights_updated_and_built_anew(tmp_path, archive, 2)
    assert built is not None
    assert built.changed_days["messages"] == [date(2026, 11, 18)]
    archive_file(
        archive,
        SENDER_FILE.format("2026-11-19", "b-delivered"),
        [status("wamid.B", "delivered", "2026-11-18 09:00:09")],
    )
    built, rows = nights_updated_and_built_anew(tmp_path, archive, 3)
    assert built is not None
    with duckdb.connect(str(tmp_path / "updated-3.duckdb"), read_only=True) as warehouse:
        outcomes = warehouse.execute(
            "select key, final_status from messages order by key"
        ).fetchall()
        keyed = warehouse.execute(
            "select key from statuses where message_id = 'wamid.B'"
        ).fetchall()
    assert outcomes == [("whatsapp-a", "sent"), ("whatsapp-b", "delivered")]
    assert keyed == [("whatsapp-b",)]
    # b's day; a's turns report_missing as the as_of moves past its window
    assert built.changed_days["messages"] == [date(2026, 11, 17), date(2026, 11, 18)]
    assert len(rows["statuses"]) == 2


def a_second_night_of_one_message(
    work: Path, pricing: dict[str, Any] | None = None
) -> tuple[Path, Path, datetime]:
    """A message sent on the first night and read on the second, whose file the state holds:
    the state, the first night's warehouse and when the second night started."""
    archive = work / "archive"
    archive_file(
        archive,
        SENDER_FILE.format("2026-11-17", "one"),
        [status("wamid.A", "sent", "2026-11-17 09:00:05", "whatsapp-a", pricing=pricing)],
    )
    nights_updated_and_built_anew(work, archive, 1)
    archive_file(
        archive,
        SENDER_FILE.format("2026-11-17", "two"),
        [status("wamid.A", "read", "2026-11-17 09:10", "whatsapp-a", pricing=pricing)],
    )
    started = read_night(work, archive, 2)
    return work / "state.duckdb", work / "updated-1.duckdb", started


def test_a_warehouse_priced_with_another_rate_card_is_built_anew_at_its_rates(
    tmp_path: Path,
) -> None:
    state, previous, started = a_second_night_of_one_message(tmp_path, pricing=PMP_MARKETING)
    card = tmp_path / "card.csv"
    card.write_text(
        "market,pricing_category,effective_from,rate_usd,source\n"
        "Turkey,marketing,2026-11-01,0.5,our invoice\n"
        "Turkey,marketing,2026-11-18,9,a later rate\n"
    )
    ours = Tuning().build(started, pricing=PricingFiles.of(card, None))
    assert build_warehouse(tmp_path / "ours.duckdb", state, ours, previous) is None
    with duckdb.connect(str(tmp_path / "ours.duckdb"), read_only=True) as warehouse:
        assert warehouse.execute("select key, cost::varchar from messages").fetchall() == [
            ("whatsapp-a", "0.500000")
        ]
        assert warehouse.execute("select count(*) from rate_card").fetchall() == [(2,)]


def test_a_warehouse_built_by_another_version_or_from_files_read_again_is_built_anew(
    tmp_path: Path,
) -> None:
    state, previous, started = a_second_night_of_one_message(tmp_path)
    # other windows: another fingerprint
    other = Tuning(report_missing_hours=48).build(started)
    assert build_warehouse(tmp_path / "other.duckdb", state, other, previous) is None
    same = Tuning().build(started)
    assert build_warehouse(tmp_path / "same.duckdb", state, same, previous) is not None
    # a file read again replaces rows the update cannot find
    with duckdb.connect(str(state)) as connection:
        connection.execute("update manifest set run_id = 'run-9' where uri like '%one.jsonl'")
    assert build_warehouse(tmp_path / "again.duckdb", state, same, previous) is None
    again, updated = tables(tmp_path / "again.duckdb"), tables(tmp_path / "same.duckdb")
    assert again.pop("ingest_files") != updated.pop("ingest_files")  # the run id we changed
    assert again == updated


def test_a_copy_made_beforehand_is_updated_or_else_replaced_by_a_build_anew(
    tmp_path: Path,
) -> None:
    state, previous, started = a_second_night_of_one_message(tmp_path)
    same, other = (
        Tuning().build(started),
        Tuning(report_missing_hours=48).build(started),
    )

    def copy(name: str) -> Path:
        return Path(shutil.copyfile(previous, tmp_path / name))

    updated = build_warehouse(copy("copied.duckdb"), state, same, previous, copied=True)
    assert updated is not None and updated.changed_days["statuses"] == [date(2026, 11, 17)]
    build_warehouse(tmp_path / "anew.duckdb", state, same)
    assert tables(tmp_path / "copied.duckdb") == tables(tmp_path / "anew.duckdb")
    # a full refresh, and a copy another fingerprint built: the copy gives way to a build anew
    assert build_warehouse(copy("refresh.duckdb"), state, same, None, copied=True) is None
    assert tables(tmp_path / "refresh.duckdb") == tables(tmp_path / "anew.duckdb")
    assert build_warehouse(copy("other.duckdb"), state, other, previous, copied=True) is None
    build_warehouse(tmp_path / "other-anew.duckdb", state, other)
    assert tables(tmp_path / "other.duckdb") == tables(tmp_path / "other-anew.duckdb")
    with duckdb.connect(str(tmp_path / "refresh.duckdb"), read_only=True) as warehouse:
        ((statuses,),) = warehouse.execute("select count(*) from statuses").fetchall()
    assert statuses == 2


@pytest.mark.parametrize("missing", ["schema", "nothing"])
def test_a_warehouse_without_its_build_record_is_built_anew(tmp_path: Path, missing: str) -> None:
    archive = tmp_path / "archive"
    archive_file(
        archive,
        SENDER_FILE.format("2026-11-17", "one"),
        [status("wamid.A", "sent", "2026-11-17 09:00:05", "whatsapp-a")],
    )
    nights_updated_and_built_anew(tmp_path, archive, 1)
    previous = tmp_path / "updated-1.duckdb"
    if missing == "schema":
        with duckdb.connect(str(previous)) as connection:
            connection.execute("drop schema wa_etl_build cascade")
    started = read_night(tmp_path, archive, 2)
    built = build_warehouse(
        tmp_path / "next.duckdb",
        tmp_path / "state.duckdb",
        Tuning().build(started),
        previous,
    )
    assert (built is not None) == (missing == "nothing")


KEYS = ["whatsapp-1", "whatsapp-2", "whatsapp-3"]
WAMIDS = ["wamid.1", "wamid.2", "wamid.3", "wamid.4"]
CUSTOMERS = ["491700000001", "491700000002"]
moments = st.integers(0, 36 * 60).map(
    lambda minutes: (datetime(2026, 11, 17) + timedelta(minutes=minutes)).isoformat(" ")
)
events = st.one_of(
    st.builds(
        lambda key, moment, customer: envelope(
            template_send(key, moment, recipient=customer), iso(moment)
        ),
        st.sampled_from(KEYS),
        moments,
        st.sampled_from(CUSTOMERS),
    ),
    st.builds(
        lambda key, wamid, moment, customer: envelope(accepted(key, wamid, customer), iso(moment)),
        st.sampled_from(KEYS),
        st.sampled_from(WAMIDS),
        moments,
        st.sampled_from(CUSTOMERS),
    ),
    st.builds(
        lambda wamid, state, moment, key, customer: status(
            wamid, state, moment, key, recipient=customer
        ),
        st.sampled_from(WAMIDS),
        st.sampled_from(["sent", "delivered", "read", "failed"]),
        moments,
        st.one_of(st.none(), st.sampled_from(KEYS)),
        st.sampled_from(CUSTOMERS),
    ),
    st.builds(
        lambda number, moment, context, customer: reply(
            f"wamid.reply{number}", moment, context=context, customer=customer
        ),
        st.integers(1, 4),
        moments,
        st.one_of(st.none(), st.sampled_from(WAMIDS)),
        st.sampled_from(CUSTOMERS),
    ),
    st.builds(
        lambda key, moment: envelope(api_error(key, 130429), iso(moment)),
        st.sampled_from(KEYS),
        moments,
    ),
)


@pytest.mark.slow
@settings(max_examples=12)
@given(
    nights=st.lists(
        st.lists(st.tuples(st.sampled_from("abc"), events), min_size=1, max_size=8),
        min_size=2,
        max_size=3,
    )
)
def test_any_events_over_any_nights_update_to_what_a_full_build_gives(
    nights: list[list[tuple[str, dict[str, object]]]],
) -> None:
    """Keys, wamids and customers drawn from a few, so that links, copies (the same event
    in two files, whose names sort either way), moved replies and late events meet."""
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        for night, lines in enumerate(nights, start=1):
            for name in "abc":
                chosen = [line for file, line in lines if file == name]
                if chosen:
                    archive_file(
                        work / "archive", SENDER_FILE.format("2026-11-17", f"{name}{night}"), chosen
                    )
            built, _ = nights_updated_and_built_anew(work, work / "archive", night)
            assert (built is not None) == (night > 1)
