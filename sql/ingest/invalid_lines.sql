-- The lines of the batch that fail a check of the event models, in any pass: they are
-- quarantined (pydantic says why) and none of their rows is kept.
create or replace temp table invalid_lines as
select ordinal from chunk_accepted where not is_valid
union select ordinal from chunk_template_sends where not is_valid
union select ordinal from chunk_statuses where not is_valid
union select ordinal from chunk_replies where not is_valid
union select ordinal from chunk_errors where not is_valid
