-- The lines of the batch that fail a check of the event models, or have a row without a time,
-- in any pass: they are quarantined and none of their rows is kept. `reason` is why when the
-- models accept the line (none of its rows has a time: `no_event_time`); otherwise pydantic
-- says why (transforms/ingest/flatten.py).
create or replace temp table invalid_lines as
with invalid_rows as (
    select ordinal, is_valid from chunk_accepted where not is_valid or event_time is null
    union all
    select ordinal, is_valid from chunk_template_sends where not is_valid or event_time is null
    union all
    select ordinal, is_valid from chunk_statuses where not is_valid or event_time is null
    union all
    select ordinal, is_valid from chunk_replies where not is_valid or event_time is null
    union all
    select ordinal, is_valid from chunk_errors where not is_valid or event_time is null
),

final as (
    select
        ordinal,
        case when bool_and(is_valid) then no_event_time() end as reason
    from invalid_rows
    group by ordinal
)

select * from final
