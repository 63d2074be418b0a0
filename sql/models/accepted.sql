-- SPEC 5 `accepted`: one row per accepted message id, duplicates removed, with the tracking
-- key resolved through the wamid when the event lacks one, and the sender resolved.
insert into accepted by name
with accepted as (
    select * from deduplicated_accepted
),

keyed as (
    select
        accepted.* exclude (key),
        coalesce(accepted.key, message_keys.key) as key
    from accepted
    left join message_keys on message_keys.message_id = accepted.message_id
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
