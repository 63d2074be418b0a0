"""transforms/ingest/countries.py: a recipient's country is what `phonenumbers` says of the
number, whether the passes look its calling code up or ask the library."""

import random

import phonenumbers
import pytest

from tests.conftest import INGESTED_AT, ingest_options
from transforms.contract.wire import TimeWindow
from transforms.ingest.countries import calling_code_regions, number_country
from transforms.ingest.flatten import ingest_connection


def library(number: str) -> str | None:
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(f"+{number}"))
    except phonenumbers.NumberParseException:
        return None


def test_the_calling_code_lookup_agrees_with_the_library_for_every_code_and_length() -> None:
    rng = random.Random(8)
    regions = calling_code_regions()
    looked_up = 0
    for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
        for length in range(8, 18):
            for _ in range(5):
                digits = str(code)
                number = digits + "".join(
                    rng.choice("0123456789") for _ in range(length - len(digits))
                )
                region = regions[int(number[:3])]
                if region is not None:
                    looked_up += 1
                    assert region == library(number), number
    # most codes name one country: they are looked up, not parsed
    assert looked_up > 9000


@pytest.mark.parametrize(
    ("number", "country"),
    [
        ("905551112233", "TR"),  # one country per code: looked up
        ("919812345678", "IN"),
        ("12125550100", "US"),  # +1 is shared: the library tells New York
        ("14165550100", "CA"),  # ... from Toronto
        ("18765550100", "JM"),  # ... and Jamaica
        ("77012345678", "KZ"),  # +7: Kazakhstan, not Russia
        ("79161234567", "RU"),
        ("447911123456", "GG"),  # +44 7911 is Guernsey's range
        ("447400123456", "GB"),
        ("80012345678", "001"),  # a non-geographic code
        ("0090555111223", None),  # no calling code starts with 0
        ("9", None),  # too short to be a number
        ("", None),
        (None, None),
    ],
)
def test_the_passes_place_a_number_as_the_library_does(
    number: str | None, country: str | None
) -> None:
    connection = ingest_connection(ingest_options(), None, TimeWindow.of_run(INGESTED_AT))
    try:
        ((placed,),) = connection.execute(
            "select phone_country($number)", {"number": number}
        ).fetchall()
    finally:
        connection.close()
    assert placed == country
    if number:
        assert number_country(number) == library(number) == country
