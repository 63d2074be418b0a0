-- inputs: deduplicated_replies
-- outputs: replies
--
-- contract §5 `replies`: one row per customer message, unique on its id. A reply belongs to no
-- outbound message here (attribution is in `messages`), so its sender is its own metadata,
-- else the envelope's, else the path's.
with replies as (
    select * from deduplicated_replies
),

final as (
    select
        replies.* exclude (sender, envelope_sender, path_sender),
        resolved_sender(replies.sender, null, replies.envelope_sender, replies.path_sender)
            as sender
    from replies
)

select * from final
