-- SPEC 3: accepted events and statuses link a tracking key to a wamid. The key of each wamid;
-- a wamid linked to two keys keeps the one linked first (a window, not an ordered aggregate,
-- which keeps every link's text in memory it cannot spill).
create or replace temp table message_keys as
with links as (
    select message_id, key, event_time from deduplicated_accepted where key is not null
    union all
    select message_id, key, event_time from deduplicated_statuses where key is not null
),

final as (
    select
        message_id,
        key
    from links
    qualify row_number() over (partition by message_id order by event_time, key) = 1
)

select * from final
