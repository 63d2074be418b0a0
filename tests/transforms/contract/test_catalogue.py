"""transforms/contract/catalogue.py: the error catalogue read from its seed file, every row
checked against the `error_codes` table's model."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from transforms.contract import catalogue
from transforms.contract.catalogue import catalogue_codes, error_catalogue
from transforms.contract.seeds import SeedError

HEADER = "code,title,category,is_rate_limit,retryable,handling\n"


@pytest.fixture
def seed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "error_codes.csv"
    monkeypatch.setattr(catalogue, "ERROR_CODES", path)
    error_catalogue.cache_clear()
    catalogue_codes.cache_clear()
    yield path
    error_catalogue.cache_clear()
    catalogue_codes.cache_clear()


def test_the_shipped_catalogue_reads_whole() -> None:
    frame = error_catalogue()
    lines = catalogue.ERROR_CODES.read_text(encoding="utf-8").splitlines()
    assert frame.height == len(lines) - 1
    row = frame.filter(frame["code"] == 131026).to_dicts()
    assert row == [
        {
            "code": 131026,
            "title": row[0]["title"],
            "category": "recipient",
            "is_rate_limit": False,
            "retryable": False,
            "handling": "suppress",
        }
    ]
    assert "131026" in catalogue_codes()


def test_a_row_without_its_category_names_its_line(seed: Path) -> None:
    seed.write_text(
        HEADER + "4,Too many calls,rate_limit,true,true,pace\n5,Odd,,false,false,review\n"
    )
    with pytest.raises(
        SeedError, match=r"error_codes\.csv, line 3: category: Input should be a valid string$"
    ):
        error_catalogue()


def test_a_code_that_is_no_number_is_refused(seed: Path) -> None:
    seed.write_text(HEADER + "four,Too many calls,rate_limit,true,true,pace\n")
    with pytest.raises(SeedError, match=r"error_codes\.csv"):
        error_catalogue()


def test_a_code_listed_twice_is_refused(seed: Path) -> None:
    seed.write_text(HEADER + "4,A,rate_limit,true,true,pace\n4,B,rate_limit,true,true,pace\n")
    with pytest.raises(SeedError, match=r"code listed more than once: 4$"):
        error_catalogue()


@pytest.mark.parametrize(
    ("code", "handling"),
    [
        (500, "retry"),  # a server code
        (133004, "retry"),
        (429, "pace"),  # an On-Premise rate limit
        (130429, "pace"),
        (132015, "defer"),  # also a template code: the first class that names it wins
        (131026, "suppress"),
        (131052, "fix"),  # media
        (2003, "fix"),  # an On-Premise template code
        (132001, "fix"),
        (250, "stop"),  # 200-299
        (131042, "stop"),
        (131048, "review"),  # a rate limit no class names
        (470, "review"),
    ],
)
def test_each_code_has_the_handling_class_its_rules_give(code: int, handling: str) -> None:
    row = error_catalogue().filter(error_catalogue()["code"] == code).to_dicts()
    assert [r["handling"] for r in row] == [handling]


def test_every_code_a_handling_rule_names_is_in_the_catalogue() -> None:
    named = {1, 2, 100, 131008, 131009, 131030, 131051, 130497, 133016, 132068, 132069, 135000}
    codes = set(error_catalogue()["code"].to_list())
    assert named | set(range(200, 300)) <= codes


def test_a_handling_class_out_of_the_list_names_its_line(seed: Path) -> None:
    seed.write_text(
        HEADER + "4,Too many calls,rate_limit,true,true,pace\n5,Odd,other,false,false,later\n"
    )
    with pytest.raises(
        SeedError, match=r"line 3: handling: Value error, should be one of retry, pace"
    ):
        error_catalogue()
