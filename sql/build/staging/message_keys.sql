-- inputs: deduplicated_accepted, deduplicated_statuses, deduplicated_errors
-- outputs: message_keys
--
-- contract §3: accepted events and statuses link a tracking key to a wamid. The key of each wamid
-- that an event without a key of its own names (`with_key` looks only those up; the others,
-- three in four wamids of a night, would hold memory the build needs); a wamid linked to two
-- keys keeps the one linked first (a window, not an ordered aggregate, which keeps every
-- link's text in memory it cannot spill). Each link is told again by every status of its
-- message: the window sorts each link once, at its first time.
create or replace temp table message_keys as
with keyless as (
    select message_id from deduplicated_accepted where key is null
    union all
    select message_id from deduplicated_statuses where key is null
    union all
    select message_id from deduplicated_errors where key is null
),

links as (
    select message_id, key, event_time from deduplicated_accepted where key is not null
    union all
    select message_id, key, event_time from deduplicated_statuses where key is not null
),

distinct_links as (
    select
        message_id,
        key,
        min(event_time) as event_time
    from links
    semi join keyless using (message_id)
    group by message_id, key
),

final as (
    select
        message_id,
        key
    from distinct_links
    qualify row_number() over (partition by message_id order by event_time, key) = 1
)

select * from final
