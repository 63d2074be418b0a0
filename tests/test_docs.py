"""The questions in docs/questions.md are answered by their SQL on a real warehouse."""

import re
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
