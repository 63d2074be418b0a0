"""The build's memory is bounded by DuckDB's limit, not by the night: a state of 300,000
messages (900,000 statuses with wamids of 42 characters) builds under a 200 MB limit. Before,
the first wamid, number and sender of each message were kept by hash aggregates whose texts
DuckDB cannot spill, and the same state ran out of memory."""

from datetime import UTC, datetime
from pathlib import Path

import duckdb

from transforms.model import BuildSettings, build_warehouse
from transforms.parts import create_views, part_folder
from transforms.schema import create_table_sql, landing_columns
from transforms.state import open_state
from transforms.tables import Statuses

MESSAGES = 300_000
STATUSES = ("sent", "delivered", "read")


def state_of_many_messages(path: Path) -> None:
    """Every message is sent, delivered and read, a minute apart, in files of 10,000: one
    landing part of statuses, as a run's merge lists it."""
    connection = open_state(path, threads=2, memory_limit="2GB")
    part = part_folder(path.parent, "statuses") / "synthetic.parquet"
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
                '15550100001' as sender,
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
                "ingested_at": datetime(2026, 11, 24, tzinfo=UTC),
            },
        )
        connection.execute(
            "copy synthetic to $part (format parquet, compression zstd)", {"part": str(part)}
        )
        connection.execute(
            "insert into landing_parts values ('statuses', $name)", {"name": part.name}
        )
        create_views(connection, path.parent)
        connection.execute(
            "insert into manifest by name"
            " select distinct source_file as uri, 'run' as run_id from landing_statuses"
        )
    finally:
        connection.close()


def test_a_night_beyond_the_memory_limit_builds_within_it(tmp_path: Path) -> None:
    state = tmp_path / "state.duckdb"
    state_of_many_messages(state)
    warehouse = tmp_path / "warehouse.duckdb"
    settings = BuildSettings(
        run_started=datetime(2026, 11, 24, 2, tzinfo=UTC), memory_limit="200MB"
    )

    build_warehouse(warehouse, state, settings)

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
