"""The error catalogue (contract §6), kept as data: `data/seeds/error_codes.csv`, loaded into
the warehouse's `error_codes` by `sql/models/error_codes.sql`."""

import csv
from functools import cache
from pathlib import Path

SEED_DIR = Path(__file__).resolve().parents[1] / "data" / "seeds"
ERROR_CODES = SEED_DIR / "error_codes.csv"


@cache
def catalogue_codes() -> frozenset[str]:
    """The catalogue's codes as text: a digit run that is one is not masked as a number."""
    with ERROR_CODES.open(encoding="utf-8", newline="") as seed:
        return frozenset(row["code"] for row in csv.DictReader(seed))
