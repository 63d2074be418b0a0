-- inputs: deduplicated_statuses, message_keys, message_senders
-- outputs: statuses
--
-- contract §5 `statuses`: one row per status report, unique on (message_id, status, timestamp),
-- with the tracking key resolved through the wamid when the status lacks one (contract §3), and
-- the sender resolved.
select * from with_identity('deduplicated_statuses')
