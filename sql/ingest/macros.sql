-- Casts of the text DuckDB's reader takes off the wire. Every scalar is read as text so that
-- DuckDB never coerces silently; each pass checks the text against the pattern of its pydantic
-- type first (the generated `wire_*` and `valid_*` macros) and keeps only valid rows, so these
-- casts matter only for text that matched.

-- The lines of a batch a pass reads, as DuckDB's typed reader takes them: `read_columns` is
-- the pass's projection of the event models. The file holds only the lines the pass needs
-- (those that may hold its keys); the variable `pass_ordinals` gives each its ordinal in the
-- batch, which numbers the non-blank lines in order (a lookup, not a join: joining would copy
-- the wide structs). Every line is a record: one that is no JSON object fails the read.
-- DuckDB reads a file on one thread, so batches are read in parallel.
create or replace macro batch_lines(batch_path, read_columns, object_size) as table
    select
        getvariable('pass_ordinals')[ordinality] as ordinal,
        * exclude (ordinality)
    from read_json(
        batch_path,
        columns = read_columns,
        format = 'newline_delimited',
        records = true,
        maximum_object_size = object_size
    ) with ordinality;

create or replace macro unix_time(value) as to_timestamp(try_cast(value as bigint));

create or replace macro integer_code(value) as try_cast(value as bigint);

create or replace macro true_or_false(value) as
    case value when 'true' then true when 'false' then false end;

create or replace macro decimal_number(value) as try_cast(value as double);

-- received_at: unix seconds, or ISO-8601 (read as UTC when it has no offset).
create or replace macro envelope_time(value) as
    case
        when value is null then null
        when contains(value, '-') then try_cast(value as timestamptz)
        else to_timestamp(try_cast(value as double))
    end;

-- Phone numbers are digit strings: strip '+', spaces and dashes.
create or replace macro digits(value) as
    nullif(regexp_replace(value, '[+\s-]', '', 'g'), '');

-- What a line says besides its events, whichever pass reads it: its tracking key and
-- timestamp (for events with no timestamp of their own, at the top of the body), its
-- envelope's time and sender, and whether these are valid. `key` and `timestamp` come from the
-- body (in its envelope or not), `received_at` and `sender` from the envelope.
create or replace macro line_envelope(key, timestamp, received_at, sender) as {
    'key': nullif(key, ''),
    'line_time': unix_time(timestamp),
    'received_at': envelope_time(received_at),
    'envelope_sender': digits(sender),
    'is_valid':
        (timestamp is null or wire_unix_seconds(timestamp))
        and (
            received_at is null
            or wire_instant(received_at) and envelope_time(received_at) is not null
        )
};

-- SPEC 3, event time: the payload's timestamp, else the envelope's received_at, else the
-- hour or day in the path, else the file's modification time; with where it came from.
create or replace macro resolved_event_time(payload_time, received_at, path_time, file_time) as
    case
        when payload_time is not null then {'time': payload_time, 'source': 'payload'}
        when received_at is not null then {'time': received_at, 'source': 'envelope'}
        when path_time is not null then {'time': path_time, 'source': 'path'}
        else {'time': file_time, 'source': 'file'}
    end;
