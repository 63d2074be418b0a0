-- Casts of the text DuckDB's reader takes off the wire. Every scalar is read as text so that
-- DuckDB never coerces silently; each pass checks the text against the pattern of its pydantic
-- type first (the generated `wire_*` and `valid_*` macros) and keeps only valid rows, so these
-- casts matter only for text that matched.

-- The lines of a batch a pass reads, as DuckDB's typed reader takes them: `read_columns` is
-- the pass's projection of the event models. The file holds only the lines the pass needs
-- (those that may hold its keys); the variable `pass_ordinals` gives each its ordinal in the
-- batch, which numbers the non-blank lines in order (a lookup, not a join: joining would copy
-- the wide structs). Every line is a record: one that is no JSON object fails the read.
-- Beside each line, `raw`: the same line read again for the elements a row keeps whole
-- (`raw_columns`, the pass's `-- payload:` paths, as JSON text), or, with `raw_records` false,
-- the whole line as JSON; the two reads of one file on one thread give the lines in the same
-- order, so they are put side by side (a positional join), not joined on a key.
-- And `line`: what the line says besides its events (`line_envelope`), its key and timestamp
-- from its body, in its envelope (`payload` or `body`) or not.
-- DuckDB reads a file on one thread, so batches are read in parallel.
create or replace macro batch_lines(batch_path, read_columns, raw_columns, raw_records, object_size)
as table
    select
        getvariable('pass_ordinals')[typed.ordinality] as ordinal,
        typed.* exclude (ordinality),
        raws.raw,
        line_envelope(
            coalesce(typed.payload.key, typed.body.key, typed.key),
            coalesce(typed.payload.timestamp, typed.body.timestamp, typed.timestamp),
            typed.received_at,
            typed.sender
        ) as line
    from (
        select *
        from read_json(
            batch_path,
            columns = read_columns,
            format = 'newline_delimited',
            records = true,
            maximum_object_size = object_size
        ) with ordinality
    ) as typed
    positional join (
        select raw
        from read_json(
            batch_path,
            columns = raw_columns,
            format = 'newline_delimited',
            records = raw_records,
            maximum_object_size = object_size
        ) as raw
    ) as raws;

-- What tells the copies of one event apart from other events (`dedupe_key`): its identifying
-- values as the text of a JSON list, typed as the landing rows keep it.
create or replace macro dedupe_text(parts) as to_json(parts)::varchar;

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

-- A Cloud API error's message starts with its code, "(#130429) Rate limit hit": the title is
-- the rest, as the catalogue and an On-Premise error's title give it.
create or replace macro without_code_prefix(value) as
    regexp_replace(value, '^\(#[0-9]+\)\s*', '');

-- Only the changes of the field `messages` (or of no field) are message events; `calls`,
-- `flows`, `message_template_status_update`, ... are not.
create or replace macro is_message_change(field) as
    field is null or field = 'messages';

-- The changes of a Cloud webhook's `entry[]` that are message events, one row per change: the
-- lines of a pass (the CTE named by `lines`: `ordinal`, `line`, and its entries as read and as
-- JSON text, `entries` and `raw_entries`), unnested entry by entry and change by change, with
-- their positions (from 1): `entry_index`, `change_index`, the change as read (`change`) and
-- as JSON text (`raw_change`), side by side (unnested together, not joined).
create or replace macro message_changes(lines) as table
    select *
    from (
        select
            ordinal,
            line,
            entry_index,
            unnest(entry.changes) as change,
            unnest(raw_entry.changes) as raw_change,
            generate_subscripts(entry.changes, 1) as change_index
        from (
            select
                ordinal,
                line,
                unnest(entries) as entry,
                unnest(raw_entries) as raw_entry,
                generate_subscripts(entries, 1) as entry_index
            from query_table(lines)
            where entries is not null
        )
        where entry.changes is not null
    )
    where is_message_change(change.field);

-- The elements of the list `items` ('statuses', 'messages' or 'errors') of each change's
-- `value`, in the changes named by `changes` (`message_changes`), one row per element: the
-- change's columns, the element as read (`item`) and as JSON text (`raw_item`), and its
-- position in the list (`item_index`, from 1).
create or replace macro change_items(changes, items) as table
    select
        *,
        unnest(struct_extract(change.value, items)) as item,
        unnest(struct_extract(raw_change.value, items)) as raw_item,
        generate_subscripts(struct_extract(change.value, items), 1) as item_index
    from query_table(changes)
    where struct_extract(change.value, items) is not null;

-- What a row keeps of its event (`payload_json`): the element as read (`raw_json`), or
-- under pii=hash|drop the element rebuilt from its known fields, masked (`masked`, from the
-- generated `masked_<model>` macros).
create or replace macro kept_payload(raw_json, masked) as
    case getvariable('pii')
        when 'keep' then raw_json::varchar
        else json_strip_nulls(to_json(masked))::varchar
    end;

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

-- Event time (contract §3): the payload's timestamp, else the envelope's received_at, else
-- the hour or day in the path, else the file's modification time; with where it came from.
-- A path's or a file's time out of the run's window is none (`batch_files`): a row with no
-- time at all is invalid (`no_event_time`), and its line is quarantined. (The build puts the
-- time of the message's first template send before the path's and the file's, for API errors
-- and accepted events: `build/staging/deduplicated`.)
create or replace macro resolved_event_time(payload_time, received_at, path_time, file_time) as
    case
        when payload_time is not null then {'time': payload_time, 'source': 'payload'}
        when received_at is not null then {'time': received_at, 'source': 'envelope'}
        when path_time is not null then {'time': path_time, 'source': 'path'}
        else {'time': file_time, 'source': 'file'}
    end;

-- Why a line is invalid when the event models accept it: none of its rows has a time.
create or replace macro no_event_time() as
    'no event time: the line has no timestamp and no envelope time, its path no date, and its '
    || 'file''s modification time is out of range';

-- The country of a recipient's number (contract §8): `phonenumbers.region_code_for_number` of
-- it. A number of usual length whose first three digits start a calling code of one country
-- is of that country (`calling_code_regions`, transforms/ingest/countries.py); the library
-- places the others (`library_country`, once per distinct number).
create or replace macro phone_country(number) as
    coalesce(
        case
            when length(number) between 8 and 17 and regexp_full_match(number, '[0-9]+')
                then getvariable('calling_code_regions')[number[1:3]::integer + 1]
        end,
        library_country(number)
    );
