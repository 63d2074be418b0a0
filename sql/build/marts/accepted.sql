-- inputs: deduplicated_accepted, message_keys, message_senders
-- outputs: accepted
--
-- contract §5 `accepted`: one row per accepted message id, duplicates removed, with the tracking
-- key resolved through the wamid when the event lacks one, and the sender resolved.
select * from with_identity('deduplicated_accepted')
