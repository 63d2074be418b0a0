"""The event models read every payload of the vendor document and of contract §2."""

import pytest

from tests.conftest import FIXTURE_FILES, fixture_line
from transforms.ingest.validate import Accepted, verdict

FIXTURE_NAMES = [f"{path.parent.name}/{path.stem}" for path in FIXTURE_FILES]


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_every_fixture_is_a_valid_line_and_its_normal_form_is_stable(name: str) -> None:
    judged = verdict(fixture_line(name))
    assert isinstance(judged, Accepted)
    again = verdict(judged.normalized)
    assert isinstance(again, Accepted)
    assert again.normalized == judged.normalized
    assert again.line == judged.line


def test_the_models_read_numbers_as_strings_and_strings_as_numbers() -> None:
    judged = verdict(fixture_line("vendor/failed_event"))
    assert isinstance(judged, Accepted)
    webhook = judged.line.webhook
    assert webhook.entry and webhook.entry[0] and webhook.entry[0].changes
    change = webhook.entry[0].changes[0]
    assert change and change.value and change.value.statuses
    status = change.value.statuses[0]
    assert status is not None and status.errors and status.errors[0]
    assert (status.timestamp, status.errors[0].code) == (1671526301, 131026)
    api = verdict(fixture_line("spec/cloud_api_error_full"))
    assert isinstance(api, Accepted)
    assert api.line.webhook.error is not None
    assert (api.line.webhook.error.code, api.line.webhook.error.error_subcode) == (100, 2494010)
