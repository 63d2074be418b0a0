-- The classified lines of the batch: valid, with at least one row of a raw table, per file.
-- Every other line is judged by pydantic (transforms/ingest/flatten.py): unclassified (a JSON object
-- of no known event kind) or quarantined.
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
        line_origins.ordinal,
        line_origins.file_index,
        line_origins.line_no
    from lines_with_rows
    join line_origins using (ordinal)
    anti join invalid_lines using (ordinal)
)

select * from final
