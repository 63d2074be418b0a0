-- inputs: message_lifecycle
-- outputs: message_senders
--
-- contract §3 sender: the business number of each message from the metadata of any of its events
-- (the earliest that has one; `message_lifecycle`), by the message and by its `ref_hash`.
create or replace temp view message_senders as
select
    message_ref,
    ref_hash(message_ref) as ref_hash,
    metadata_sender as sender
from message_lifecycle
where metadata_sender is not null
