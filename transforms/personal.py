"""Personal data (recipients' phone numbers, the texts customers write and are sent) at
ingestion, by the run's `pii` setting:

- `keep`: as read;
- `hash`: phone numbers become their HMAC-SHA256 (hex) under a key from the environment
  (`WA_ETL_PII_KEY`) or a Prefect Secret block, so counts and joins still work; texts are
  dropped;
- `drop`: phone numbers and texts are dropped.

The columns are those the table models mark personal (`personal_col`). Whatever is derived
from them later (messages, metrics, the export) is derived from the masked values, so every
table and export honours the setting. Identity digests (`dedupe_key`, which may be computed
from a number) are keyed-hashed as well, so nothing personal can be recovered from them.
"""

import hashlib
import hmac
import os
from typing import Literal

import duckdb

from transforms.schema import landing_columns
from transforms.tables import RAW_TABLES, Landing, Table

PiiMode = Literal["keep", "hash", "drop"]
KEY_VARIABLE = "WA_ETL_PII_KEY"
_BLOCK = 64  # SHA-256's block size (RFC 2104)


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


def set_key(connection: duckdb.DuckDBPyConnection, mode: PiiMode, key: bytes | None) -> None:
    """The mode and the key's padded forms as DuckDB variables, for `sql/ingest/personal`."""
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
    "text": "null",
    "digest": "keyed_digest({column})",
}


def masking_statement(table: type[Table], landing_table: str) -> str:
    """The `update` that masks the personal columns of a raw table's landing rows."""
    landing = landing_columns(table)
    kinds = personal_columns(table) | personal_columns(Landing)
    assignments = ", ".join(
        f'"{column}" = ' + _MASKS[kind].format(column=f'"{column}"')
        for column, kind in kinds.items()
        if column in landing
    )
    return f"update {landing_table} set {assignments}"


def masking_statements(mode: PiiMode) -> list[str]:
    """The statements that mask the landing tables of a batch (none to keep everything)."""
    if mode == "keep":
        return []
    return [masking_statement(table, f"landing_{name}") for name, table in RAW_TABLES.items()]
