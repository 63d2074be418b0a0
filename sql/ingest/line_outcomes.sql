-- Each valid line of the batch: classified if it yielded at least one row of a raw table,
-- else unclassified (a JSON object of no known event kind).
create or replace temp table line_outcomes as
with lines_with_rows as (
    select ordinal from chunk_accepted
    union select ordinal from chunk_template_sends
    union select ordinal from chunk_statuses
    union select ordinal from chunk_replies
    union select ordinal from chunk_errors
),

final as (
    select
        lines.ordinal,
        lines.file_index,
        lines.line_no,
        lines.ordinal in (select ordinal from lines_with_rows) as classified
    from lines
    anti join invalid_lines using (ordinal)
)

select * from final
