"""The build's memory is bounded by DuckDB's limit, not by the night: a state of 300,000
messages (900,000 statuses with wamids of 42 characters) builds under a 200 MB limit. Before,
the first wamid, number and sender of each message were kept by hash aggregates whose texts
DuckDB cannot spill, and the same state ran out of memory. A night with as many errors as
messages builds its `errors` under 275 MB: resolving their keys and senders built both joins
on the errors' wide rows, which ran out of memory there (and the 16 GB night under 800 MB)."""

from datetime import UTC, datetime
from pathlib import Path

import duckdb

from flows.settings import Tuning
from transforms.build.warehouse import build_warehouse
from transforms.contract.raw_tables import Errors, Statuses
from transforms.contract.schema import create_table_sql, landing_columns
from transforms.sql import Limits
from transforms.state.parts import create_views, part_folder
from transforms.state.store import open_state

MESSAGES = 300_000
STATUSES = ("sent", "delivered", "read")
SENDER = "15550100001"


def land_synthetic(connection: duckdb.DuckDBPyConnection, path: Path, table: str) -> None:
    """The temp table `synthetic` as one landing part of `table`, its files in the manifest, as
    a run's merge lists them."""
    part = part_folder(path.parent, table) / "synthetic.parquet"
    connection.execute(
        "copy synthetic to $part (format parquet, compression zstd)", {"part": str(part)}
    )
    connection.execute(
        "insert into landing_parts values ($table, $name)", {"table": table, "name": part.name}
    )
    create_views(connection, path.parent)
    connection.execute(
        "insert into manifest by name"
        f" select distinct source_file as uri, 'run' as run_id from landing_{table}"
    )


def state_of_many_messages(path: Path) -> None:
    """Every message is sent, delivered and read, a minute apart, in files of 10,000: one
    landing part of statuses."""
    connection = open_state(path, limits=Limits(threads=2, memory_limit="2GB"))
    try:
        synthetic = create_table_sql("synthetic", landing_columns(Statuses))
        connection.execute(synthetic.replace("create table", "create temp table", 1))
        connection.execute(
            """
            insert into synthetic by name
            select
                'whatsapp-' || md5(i::varchar) as key,
                'wamid.' || md5(i::varchar) || left(md5((i + 1)::varchar), 4) as message_id,
                status.name as status,
                $sender as sender,
                '9055' || lpad((i % 900000)::varchar, 8, '0') as recipient,
                'cloud' as api,
                0 as error_count,
                to_timestamp(1794787200 + i + status.step * 60) as event_time,
                'payload' as event_time_source,
                '/archive/events-' || (i // 10000)::varchar || '.jsonl' as source_file,
                (i % 10000) * 3 + status.step + 1 as line_no,
                $ingested_at as ingested_at,
                md5(i::varchar || status.name) as dedupe_key,
                1 as seq
            from range($messages) as message(i),
                (select unnest($statuses) as name, generate_subscripts($statuses, 1) - 1 as step)
                    as status
            """,
            {
                "messages": MESSAGES,
                "statuses": list(STATUSES),
                "sender": SENDER,
                "ingested_at": datetime(2026, 11, 24, tzinfo=UTC),
            },
        )
        land_synthetic(connection, path, "statuses")
    finally:
        connection.close()


def warehouse_built_within(tmp_path: Path, memory_limit: str, *, errors: bool = False) -> Path:
    """The warehouse built under `memory_limit` from the state of many messages (and, with
    `errors`, an error of every message)."""
    state = tmp_path / "state.duckdb"
    state_of_many_messages(state)
    if errors:
        add_errors_of_every_message(state)
    warehouse = tmp_path / "warehouse.duckdb"
    settings = Tuning(memory_limit=memory_limit).build(datetime(2026, 11, 24, 2, tzinfo=UTC))
    build_warehouse(warehouse, state, settings)
    return warehouse


def test_a_night_beyond_the_memory_limit_builds_within_it(tmp_path: Path) -> None:
    warehouse = warehouse_built_within(tmp_path, "200MB")

    with duckdb.connect(str(warehouse), read_only=True) as connection:
        ((messages, read, wamids),) = connection.execute(
            "select count(*), count(*) filter (final_status = 'read'),"
            " count(*) filter (message_id like 'wamid.%' and length(message_id) = 42)"
            " from messages"
        ).fetchall()
        assert (messages, read, wamids) == (MESSAGES, MESSAGES, MESSAGES)
        ((statuses,),) = connection.execute("select count(*) from statuses").fetchall()
        assert statuses == MESSAGES * len(STATUSES)
        ((days,),) = connection.execute(
            "select sum(sent) from delivery_daily where sender = '15550100001'"
        ).fetchall()
        assert days == MESSAGES


def add_errors_of_every_message(path: Path) -> None:
    """A failed status's error for every message of `state_of_many_messages`, with neither
    key nor sender (both resolved through the wamid) and texts of about 600 characters."""
    connection = open_state(path, limits=Limits(threads=2, memory_limit="2GB"))
    try:
        synthetic = create_table_sql("synthetic", landing_columns(Errors))
        connection.execute(synthetic.replace("create table", "create temp table", 1))
        connection.execute(
            """
            insert into synthetic by name
            select
                'status' as source,
                'wamid.' || md5(i::varchar) || left(md5((i + 1)::varchar), 4) as message_id,
                131049 as code,
                'Message not delivered ' || md5(i::varchar) as title,
                repeat(md5((i * 7)::varchar), 4) as message,
                repeat(md5((i * 3)::varchar), 8) as details,
                'OAuthException' as type,
                md5((i * 5)::varchar) as fbtrace_id,
                'failed' as status,
                to_timestamp(1794787200 + i + 200) as event_time,
                'payload' as event_time_source,
                '/archive/errors-' || (i // 10000)::varchar || '.jsonl' as source_file,
                (i % 10000) + 1 as line_no,
                $ingested_at as ingested_at,
                md5(i::varchar || 'error') as dedupe_key,
                1 as seq
            from range($messages) as message(i)
            """,
            {"messages": MESSAGES, "ingested_at": datetime(2026, 11, 24, tzinfo=UTC)},
        )
        land_synthetic(connection, path, "errors")
    finally:
        connection.close()


def test_as_many_errors_as_messages_resolve_their_identity_within_the_limit(
    tmp_path: Path,
) -> None:
    warehouse = warehouse_built_within(tmp_path, "275MB", errors=True)

    with duckdb.connect(str(warehouse), read_only=True) as connection:
        ((errors, own_keys, of_sender),) = connection.execute(
            "select count(*), count(*) filter (key = 'whatsapp-' || substr(message_id, 7, 32)),"
            " count(*) filter (sender = $sender) from errors",
            {"sender": SENDER},
        ).fetchall()
        assert (errors, own_keys, of_sender) == (MESSAGES, MESSAGES, MESSAGES)
        ((events, messages),) = connection.execute(
            "select sum(events), sum(messages) from error_breakdown"
            " where sender = $sender and code = 131049",
            {"sender": SENDER},
        ).fetchall()
        assert (events, messages) == (MESSAGES, MESSAGES)
