-- The messages built before that the new events touch: the keys and wamids of the warehouse's
-- rows that share a key or a wamid with a new event (a row's key there is already resolved
-- through its wamid, SPEC 3). These seed the closure over the landing rows (`hits`, `grow`);
-- the new files' own rows are read as they are. A night of new messages finds none, and then
-- no landing part beyond the new files' is read and no built row is taken out. Each lookup is a
-- semi join on one column, which DuckDB skips when the other side is empty.
create or replace temp table found_links as
with accepted_links as (
    select key, message_id from accepted semi join new_keys using (key)
    union all
    select key, message_id from accepted semi join new_wamids using (message_id)
),

template_send_links as (
    select key, null as message_id from template_sends semi join new_keys using (key)
),

status_links as (
    select key, message_id from statuses semi join new_keys using (key)
    union all
    select key, message_id from statuses semi join new_wamids using (message_id)
),

error_links as (
    select key, message_id from errors semi join new_keys using (key)
    union all
    select key, message_id from errors semi join new_wamids using (message_id)
)

select * from accepted_links
union all
select * from template_send_links
union all
select * from status_links
union all
select * from error_links;

create or replace temp table affected_keys as
select distinct key from found_links where key is not null;

create or replace temp table affected_wamids as
select distinct message_id from found_links where message_id is not null;
