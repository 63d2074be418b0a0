-- Personal data at ingestion (transforms/personal.py): the variable `pii` is the mode, and
-- `pii_inner` / `pii_outer` the key padded and combined with HMAC's two pads (RFC 2104).

-- HMAC-SHA256 of a text under the run's key, as hex (Python's hmac gives the same).
create or replace macro keyed_digest(value) as
    sha256(getvariable('pii_outer') || unhex(sha256(getvariable('pii_inner') || encode(value))));

-- A customer's phone number (digits): kept, keyed-hashed, or dropped.
create or replace macro personal_number(value) as
    case getvariable('pii')
        when 'keep' then value
        when 'hash' then keyed_digest(value)
    end;
