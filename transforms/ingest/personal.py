"""Personal data (customers' phone numbers and business-scoped user ids, message ids, which
encode the recipient's number, the texts customers write and are sent) at ingestion, by the
run's `pii` setting (contract §9):

- `keep`: as read;
- `hash`: numbers, user ids and message ids become their HMAC-SHA256 (hex) under a key from
  the environment (`WA_ETL_PII_KEY`) or a Prefect Secret block, so counts and joins still
  work; texts are dropped; runs of 8 to 15 digits in free texts are masked;
- `drop`: as `hash`, but numbers and user ids are dropped (message ids are still hashed, so
  that statuses still find their messages).

The columns are those the table models mark personal (`personal_col`); a row's `payload_json`
is rebuilt from the fields the event models do not mark personal, the others masked by their
kind (`transforms.contract.events`). Whatever is derived from them later (messages, metrics,
the export) is derived from the masked values, so every table and export honours the setting.
Identity
digests (`dedupe_key`, which may be computed from a number) are keyed-hashed as well, so
nothing personal can be recovered from them.
"""

import hashlib
import hmac
import os
import re
from typing import Literal

import duckdb

from transforms.contract.catalogue import catalogue_codes
from transforms.contract.columns import Landing, Table
from transforms.contract.raw_tables import RAW_TABLES
from transforms.contract.schema import landing_columns

PiiMode = Literal["keep", "hash", "drop"]
KEY_VARIABLE = "WA_ETL_PII_KEY"
_BLOCK = 64  # SHA-256's block size (RFC 2104)
MASKED_NUMBER = "[number]"
# a phone number is 8 to 15 digits (E.164); a run of them in a free text may be one
_DIGIT_RUN = re.compile(r"[0-9]+")
_PHONE_LENGTHS = range(8, 16)


class MissingKeyError(ValueError):
    """`pii=hash` without a key."""


def pii_key(secret_block: str | None) -> bytes | None:
    """The hashing key: the Prefect Secret block of that name, else `WA_ETL_PII_KEY`."""
    if secret_block:
        from prefect.blocks.system import Secret

        value = Secret.load(secret_block).get()  # type: ignore[union-attr]
        return str(value).encode()
    value = os.environ.get(KEY_VARIABLE)
    return value.encode() if value else None


def required_key(mode: PiiMode, secret_block: str | None) -> bytes | None:
    """The key the mode needs (`hash` needs one; `drop` uses one when given)."""
    key = pii_key(secret_block) if mode != "keep" else None
    if mode == "hash" and not key:
        raise MissingKeyError(
            f"pii=hash needs a key: set {KEY_VARIABLE} or name a Prefect Secret block "
            "(--pii-key-secret)"
        )
    return key


def keyed_digest(key: bytes, text: str) -> str:
    """HMAC-SHA256 of a text, hex: what `hash` makes of a phone number."""
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def key_id(mode: PiiMode, key: bytes | None) -> str:
    """Names the setting and the key without revealing the key: a state written under
    another one must be read again."""
    return mode if key is None else f"{mode}:{keyed_digest(key, 'wa-etl key id')[:16]}"


def masked_digits(text: str) -> str:
    """A free text (an error's title, a reason) with every run of 8 to 15 digits that is not
    a catalogue code masked: a phone number may hide there. `masked_digits` in
    `sql/ingest/personal.sql` is the same rule for the columns."""
    codes = catalogue_codes()

    def masked(run: re.Match[str]) -> str:
        digits = run.group()
        return MASKED_NUMBER if len(digits) in _PHONE_LENGTHS and digits not in codes else digits

    return _DIGIT_RUN.sub(masked, text)


def set_key(connection: duckdb.DuckDBPyConnection, mode: PiiMode, key: bytes | None) -> None:
    """The mode, the key's padded forms and the catalogue's codes as DuckDB variables, for
    `sql/ingest/personal`."""
    connection.execute(
        "set variable catalogue_codes = $codes", {"codes": sorted(catalogue_codes())}
    )
    key = key or b""  # `drop` without a key still digests the identities, unkeyed
    padded = (hashlib.sha256(key).digest() if len(key) > _BLOCK else key).ljust(_BLOCK, b"\0")
    connection.execute("set variable pii = $mode", {"mode": mode})
    connection.execute(
        "set variable pii_inner = $pad", {"pad": bytes(byte ^ 0x36 for byte in padded)}
    )
    connection.execute(
        "set variable pii_outer = $pad", {"pad": bytes(byte ^ 0x5C for byte in padded)}
    )


def personal_columns(table: type[Table]) -> dict[str, str]:
    """The table's personal columns and their kind: number, text or digest."""
    return {
        name: str(field.json_schema_extra["personal"])
        for name, field in table.model_fields.items()
        if isinstance(field.json_schema_extra, dict) and "personal" in field.json_schema_extra
    }


_MASKS = {
    "number": "personal_number({column})",
    "message_id": "keyed_digest({column})",
    "text": "null",
    "free_text": "masked_digits({column})",
    "digest": "keyed_digest({column})",
}


def masking_statement(table: type[Table], rows_table: str) -> str:
    """The `update` that masks the personal columns of a raw table's rows in `rows_table`."""
    landing = landing_columns(table)
    kinds = personal_columns(table) | personal_columns(Landing)
    # `payload` columns are masked as the passes read them (`kept_payload`)
    assignments = ", ".join(
        f'"{column}" = ' + _MASKS[kind].format(column=f'"{column}"')
        for column, kind in kinds.items()
        if column in landing and kind != "payload"
    )
    return f"update {rows_table} set {assignments}"


def masking_statements(mode: PiiMode) -> list[str]:
    """The statements that mask the rows of a batch's passes (`chunk_<table>`) before their
    landing rows are taken (none to keep everything)."""
    if mode == "keep":
        return []
    return [masking_statement(table, f"chunk_{name}") for name, table in RAW_TABLES.items()]
