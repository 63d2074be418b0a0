-- Personal data at ingestion (transforms/ingest/personal.py): the variable `pii` is the mode, and
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

-- A free text (an error's title, message or details) with every run of 8 to 15 digits that
-- is not a catalogue code (variable `catalogue_codes`) masked: a phone number may hide there.
-- `masked_digits` in transforms/ingest/personal.py is the same rule for the texts Python writes.
create or replace macro masked_digits(value) as
    case
        when getvariable('pii') = 'keep' or value is null or value = '' then value
        else list_aggregate(
            list_transform(
                regexp_extract_all(value, '[0-9]+|[^0-9]+'),
                lambda part: case
                    when regexp_full_match(part, '[0-9]{8,15}')
                        and not list_contains(getvariable('catalogue_codes'), part)
                        then '[number]'
                    else part
                end
            ),
            'string_agg',
            ''
        )
    end;
