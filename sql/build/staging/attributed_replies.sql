-- inputs: replies, message_lifecycle, variable reply_window_hours
-- outputs: attributed_replies_of, attributed_replies
--
-- Replied (contract §4): the outbound message each reply answers. A reply whose context.id is
-- a message's wamid answers that message; a reply without context answers the latest message
-- (by first event time) from the same sender to the same customer (by phone number or by
-- business-scoped user id) whose first event lies in the 24 hours (setting) before the reply,
-- both ends included. The messages judged are the macro's argument: every message here, the
-- messages an update judges again in `build/update/13_reply_scope`.
create or replace temp macro attributed_replies_of(messages_table) as table
with by_context as (
    select
        replies.reply_id,
        judged.message_ref,
        replies.event_time as reply_at
    from replies
    join query_table(messages_table) as judged on judged.message_id = replies.context_id
),

-- a customer is a phone number or a business-scoped user id (contract §3): the messages to
-- either, each found by an equality join (one join on "either" would pair every reply with
-- every message of its sender)
window_candidates as (
    select
        replies.reply_id,
        replies.event_time as reply_at,
        judged.message_ref,
        judged.first_event_at
    from replies
    join query_table(messages_table) as judged
        on judged.sender = replies.sender
        and judged.recipient = replies.customer
        and judged.first_event_at
            between replies.event_time - to_hours(getvariable('reply_window_hours'))
            and replies.event_time
    where replies.context_id is null
    union
    select
        replies.reply_id,
        replies.event_time as reply_at,
        judged.message_ref,
        judged.first_event_at
    from replies
    join query_table(messages_table) as judged
        on judged.sender = replies.sender
        and judged.recipient_user_id = replies.customer_user_id
        and judged.first_event_at
            between replies.event_time - to_hours(getvariable('reply_window_hours'))
            and replies.event_time
    where replies.context_id is null
),

by_window as (
    select
        reply_id,
        first(message_ref order by first_event_at desc, message_ref desc) as message_ref,
        any_value(reply_at) as reply_at
    from window_candidates
    group by reply_id
),

final as (
    select * from by_context
    union all
    select * from by_window
)

select * from final;

create or replace temp table attributed_replies as
from attributed_replies_of('message_lifecycle');
