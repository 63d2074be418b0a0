-- inputs: new_rows_accepted, new_rows_template_sends, new_rows_statuses, new_rows_errors,
-- inputs: new_files, landing_rows_accepted, landing_rows_template_sends, landing_rows_statuses,
-- inputs: landing_rows_errors, landing_rows_replies, affected_keys, affected_wamids, new_replies
-- outputs: landing_hits_of, landing_hits
--
-- Where the landing rows the update rebuilds from are (their part and row number), found by
-- keys and wamids alone (a scan of one column, not of whole rows): every row of the new files;
-- every copy of every event whose key or wamid the closure holds (`found`, then `grow`); the
-- template sends without a key and the errors with neither, which belong to no message and
-- are always rebuilt; and every reply read again. A status priced per conversation names its
-- conversation, which `grow` follows (its charge falls on the conversation's first delivered
-- message, contract §8). `grow` reads the links between keys and wamids off these rows; `landing` then reads whole only the rows found here. The lookups are
-- semi joins, which DuckDB skips while the closure is empty.
create or replace temp macro landing_hits_of(rows_view, new_rows_view) as table
    select part_file, part_row, key, message_id from query_table(new_rows_view)
    semi join new_files using (source_file)
    union
    select part_file, part_row, key, message_id from query_table(rows_view)
    semi join affected_keys using (key)
    union
    select part_file, part_row, key, message_id from query_table(rows_view)
    semi join affected_wamids using (message_id);

create or replace temp table landing_hits as
with template_sends as (
    select part_file, part_row, key from new_rows_template_sends
    semi join new_files using (source_file)
    union
    select part_file, part_row, key from landing_rows_template_sends
    semi join affected_keys using (key)
    union
    select part_file, part_row, key from landing_rows_template_sends
    where key is null
),

-- a status names its conversation when it is priced per conversation
statuses as (
    select
        part_file,
        part_row,
        key,
        message_id,
        case when pricing_model = 'CBP' then conversation_id end as conversation_id
    from (
        select part_file, part_row, key, message_id, conversation_id, pricing_model
        from new_rows_statuses semi join new_files using (source_file)
        union
        select part_file, part_row, key, message_id, conversation_id, pricing_model
        from landing_rows_statuses semi join affected_keys using (key)
        union
        select part_file, part_row, key, message_id, conversation_id, pricing_model
        from landing_rows_statuses semi join affected_wamids using (message_id)
    )
),

errors as (
    from landing_hits_of('landing_rows_errors', 'new_rows_errors')
    union
    select part_file, part_row, key, message_id from landing_rows_errors
    where key is null and message_id is null
),

replies as (
    select part_file, part_row from landing_rows_replies
    semi join new_replies using (reply_id)
)

select 'accepted' as table_name, *, null as conversation_id
from landing_hits_of('landing_rows_accepted', 'new_rows_accepted')
union all
select 'template_sends' as table_name, *, null as message_id, null as conversation_id
from template_sends
union all
select 'statuses' as table_name, * from statuses
union all
select 'errors' as table_name, *, null as conversation_id from errors
union all
select 'replies' as table_name, *, null as key, null as message_id, null as conversation_id
from replies
