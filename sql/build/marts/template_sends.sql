-- inputs: deduplicated_template_sends, message_senders
-- outputs: template_sends
--
-- contract §5 `template_sends`: one row per template send, duplicates removed, sender resolved
-- from the other events of the message (a template send has no metadata of its own).
with template_sends as (
    select * from deduplicated_template_sends
),

final as (
    select
        template_sends.* exclude (sender, envelope_sender, path_sender),
        resolved_sender(
            template_sends.sender,
            message_senders.sender,
            template_sends.envelope_sender,
            template_sends.path_sender
        ) as sender
    from template_sends
    left join message_senders
        on message_senders.ref_hash = ref_hash(message_ref(template_sends.key, null))
)

select * from final
