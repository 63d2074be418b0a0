-- SPEC 5 `statuses`: one row per status report, unique on (message_id, status, timestamp),
-- with the tracking key resolved through the wamid when the status lacks one (SPEC 3).
insert into statuses by name
with statuses as (
    select * from deduplicated_statuses
),

keyed as (
    select
        statuses.* exclude (key),
        coalesce(statuses.key, message_keys.key) as key
    from statuses
    left join message_keys on message_keys.message_id = statuses.message_id
),

final as (
    select
        keyed.* exclude (sender, envelope_sender, path_sender),
        resolved_sender(
            keyed.sender, message_senders.sender, keyed.envelope_sender, keyed.path_sender
        ) as sender
    from keyed
    left join message_senders
        on message_senders.message_ref = message_ref(keyed.key, keyed.message_id)
)

select * from final
