-- SPEC 3 sender: the business number of each message from the metadata of any of its events
-- (the earliest that has one).
create or replace temp table message_senders as
select
    message_ref,
    first(sender order by event_time, source_file, line_no) as sender
from outbound_events
where sender is not null
group by message_ref
