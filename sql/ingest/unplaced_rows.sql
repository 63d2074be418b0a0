-- Rows of a pass whose record has no line (a pass read more records than it was given lines):
-- none, unless DuckDB and the line cutting disagree on where lines end; the batch is then
-- read again the slow way.
select
    (select count(*) from chunk_accepted where ordinal is null)
    + (select count(*) from chunk_template_sends where ordinal is null)
    + (select count(*) from chunk_statuses where ordinal is null)
    + (select count(*) from chunk_replies where ordinal is null)
    + (select count(*) from chunk_errors where ordinal is null)
