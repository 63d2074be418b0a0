"""The country of a recipient's number (contract §8, costs): what
`phonenumbers.region_code_for_number` says of it, taken while the passes read it, before any
masking, so that a night under `pii=hash` still knows each message's market.

The passes ask the macro `phone_country` (`sql/ingest/macros.sql`). Calling codes are a prefix
code of at most three digits, and most name one country: for those the number's first three
digits find the country in a list DuckDB holds (`calling_code_regions`, made here from the
library's own table). The numbers of a code several countries share (+1, +7, +44, ...) and
numbers of unusual length are given to the library itself, one call per distinct number.
"""

from functools import cache, lru_cache

import duckdb
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
from duckdb.func import FunctionNullHandling, PythonUDFType
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, NumberParseException

PREFIX_DIGITS = 3
"""The longest calling code: three digits name at most one code."""
SHORTEST_LOOKED_UP = 8
LONGEST_LOOKED_UP = 17
"""Numbers of these lengths (digits, calling code included) get the country of their code
without a parse: the library parses them to that code whatever the rest is (a test checks)."""


def library_version() -> str:
    """The library's version: the countries (and so the landing rows) depend on its data."""
    return str(phonenumbers.__version__)


@lru_cache(maxsize=1 << 20)
def number_country(number: str) -> str | None:
    """The library's country of a number written as digits with its calling code (`001` for a
    non-geographic code), None for a number it cannot place."""
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(f"+{number}"))
    except NumberParseException:
        return None


@cache
def calling_code_regions() -> list[str | None]:
    """For each three-digit prefix 000..999, the one country of the calling code it starts
    with; None where the code is shared by several countries, or is no code."""
    regions: list[str | None] = [None] * 10**PREFIX_DIGITS
    for code, countries in COUNTRY_CODE_TO_REGION_CODE.items():
        if len(countries) != 1:
            continue
        digits = str(code)
        width = PREFIX_DIGITS - len(digits)
        start = int(digits) * 10**width
        regions[start : start + 10**width] = [countries[0]] * 10**width
    return regions


def _countries(numbers: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The library's country of each number (an Arrow UDF: one call per distinct number)."""
    distinct = pc.unique(numbers)
    found = pa.array(
        [None if number is None else number_country(number) for number in distinct.to_pylist()],
        pa.string(),
    )
    return pc.take(found, pc.index_in(numbers, distinct))


def add_country_lookup(connection: duckdb.DuckDBPyConnection) -> None:
    """The list and the function `phone_country` (sql/ingest/macros.sql) looks countries up
    with."""
    connection.execute(
        "set variable calling_code_regions = $regions", {"regions": calling_code_regions()}
    )
    connection.create_function(
        "library_country",
        _countries,
        [duckdb.sqltype("VARCHAR")],
        duckdb.sqltype("VARCHAR"),
        type=PythonUDFType.ARROW,
        null_handling=FunctionNullHandling.SPECIAL,
    )
