"""The error catalogue (contract §6), kept as data: `data/seeds/error_codes.csv`, read and
checked row by row (`transforms.contract.seeds`) and loaded into the warehouse by
`sql/build/marts/error_codes.sql`."""

from functools import cache

import polars as pl

from transforms.contract.seeds import SEED_DIR, seed_rows
from transforms.contract.tables import ErrorCodes

ERROR_CODES = SEED_DIR / "error_codes.csv"


@cache
def error_catalogue() -> pl.DataFrame:
    """The catalogue's rows. A person edits the file: a row that is not a valid `error_codes`
    row, or a code listed twice, stops the build with the line at fault."""
    return seed_rows(ERROR_CODES, ErrorCodes, ("code",))


@cache
def catalogue_codes() -> frozenset[str]:
    """The catalogue's codes as text: a digit run that is one is not masked as a number."""
    return frozenset(str(code) for code in error_catalogue()["code"])
