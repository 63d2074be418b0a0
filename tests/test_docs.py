"""The questions in docs/questions.md, and the README's queries, are answered by their SQL on
a real warehouse, by the Python client and by DuckDB 1's command-line tool (the warehouse is
written in a storage format every DuckDB from 1.2 on reads)."""

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from flows.settings import DEFAULT_SOURCE
from tests.conftest import Warehouse, warehouse_of

QUESTIONS = (Path(__file__).resolve().parents[1] / "docs" / "questions.md").read_text(
    encoding="utf-8"
)
ANSWERS = re.findall(r"^## (\d+\. .+?)\n\n```sql\n(.+?)```", QUESTIONS, flags=re.S | re.M)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    warehouse = warehouse_of(Path(DEFAULT_SOURCE), tmp_path_factory.mktemp("questions"))
    yield warehouse
    warehouse.close()


def test_there_are_a_dozen_questions() -> None:
    assert len(ANSWERS) >= 12
    assert len(ANSWERS) == QUESTIONS.count("\n## ")


@pytest.mark.parametrize(
    ("question", "sql"), ANSWERS, ids=[question.split(".")[0] for question, _ in ANSWERS]
)
def test_each_question_is_answered_on_the_sample(
    sample: Warehouse, question: str, sql: str
) -> None:
    rows = sample.rows(sql)
    assert rows, f"no answer to: {question}"


DUCKDB_CLI = Path(sys.executable).parent / "duckdb"
README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
README_QUERIES = re.findall(r"```sql\n(.+?)```", README, flags=re.S)


def cli_answer(warehouse: Path, sql: str) -> subprocess.CompletedProcess[str]:
    """The answer of DuckDB's own command-line tool (1.x, from PyPI's duckdb-cli), read-only."""
    return subprocess.run(
        [str(DUCKDB_CLI), "-readonly", "-csv", str(warehouse), "-c", sql],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_command_line_tool_is_duckdb_1() -> None:
    done = subprocess.run([str(DUCKDB_CLI), "--version"], capture_output=True, text=True)
    assert done.stdout.startswith("v1."), done.stdout


@pytest.mark.parametrize("sql", [*README_QUERIES, *(sql for _, sql in ANSWERS)])
def test_duckdb_1_opens_the_warehouse_and_answers_the_readme_and_the_questions(
    sample: Warehouse, sql: str
) -> None:
    done = cli_answer(sample.path, sql)
    assert done.returncode == 0, done.stderr
    header, *rows = done.stdout.splitlines()
    assert header and rows


def test_the_readme_has_queries_for_the_command_line() -> None:
    assert len(README_QUERIES) >= 2


@pytest.mark.parametrize("table", ["accepted", "template_sends", "statuses", "replies", "errors"])
def test_duckdb_1_reads_the_json_kept_whole_in_its_zstd_storage(
    sample: Warehouse, table: str
) -> None:
    sql = f"select count(payload_json), sum(length(payload_json)) from {table}"
    ((count, length),) = sample.connection.execute(sql).fetchall()
    assert count > 0
    kinds = sample.connection.execute(
        f"select distinct compression from pragma_storage_info('{table}') "
        "where column_name = 'payload_json' and compression <> 'Constant'"
    ).fetchall()
    assert kinds == [("ZSTD",)]
    done = cli_answer(sample.path, sql)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1] == f"{count},{length}"
