"""transforms/contract/catalogue.py: the error catalogue read from its seed file, every row
checked against the `error_codes` table's model."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from transforms.contract import catalogue
from transforms.contract.catalogue import CatalogueError, catalogue_codes, error_catalogue

HEADER = "code,title,category,is_rate_limit,retryable\n"


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
        }
    ]
    assert "131026" in catalogue_codes()


def test_a_row_without_its_category_names_its_line(seed: Path) -> None:
    seed.write_text(HEADER + "4,Too many calls,rate_limit,true,true\n5,Odd,,false,false\n")
    with pytest.raises(
        CatalogueError, match=r"error_codes\.csv, line 3: category: Input should be a valid string$"
    ):
        error_catalogue()


def test_a_code_that_is_no_number_is_refused(seed: Path) -> None:
    seed.write_text(HEADER + "four,Too many calls,rate_limit,true,true\n")
    with pytest.raises(CatalogueError, match=r"error_codes\.csv"):
        error_catalogue()


def test_a_code_listed_twice_is_refused(seed: Path) -> None:
    seed.write_text(HEADER + "4,A,rate_limit,true,true\n4,B,rate_limit,true,true\n")
    with pytest.raises(CatalogueError, match=r"listed more than once: \[4\]"):
        error_catalogue()
