-- Where the rows of the affected messages are, found by their keys and wamids alone (a scan
-- of two columns, not of whole rows): every copy of every event whose key or wamid is
-- affected, the template sends without a key and the errors with neither, which belong to no
-- message and are always rebuilt, and every reply read again. `grow` reads the links between
-- keys and wamids off these rows; `landing` then reads whole only the rows found here.
create or replace temp table landing_hits as
with accepted as (
    select 'accepted' as table_name, part_file, part_row, key, message_id
    from landing_rows_accepted
    where key in (select key from affected_keys)
        or message_id in (select message_id from affected_wamids)
),

statuses as (
    select 'statuses' as table_name, part_file, part_row, key, message_id
    from landing_rows_statuses
    where key in (select key from affected_keys)
        or message_id in (select message_id from affected_wamids)
),

errors as (
    select 'errors' as table_name, part_file, part_row, key, message_id
    from landing_rows_errors
    where key in (select key from affected_keys)
        or message_id in (select message_id from affected_wamids)
        or (key is null and message_id is null)
),

template_sends as (
    select 'template_sends' as table_name, part_file, part_row, key, null as message_id
    from landing_rows_template_sends
    where key in (select key from affected_keys) or key is null
),

replies as (
    select 'replies' as table_name, part_file, part_row, null as key, null as message_id
    from landing_rows_replies
    where reply_id in (select reply_id from new_replies)
)

select * from accepted
union all
select * from statuses
union all
select * from errors
union all
select * from template_sends
union all
select * from replies
