-- The messages whose replies are judged again (SPEC 4 replied), under the name
-- models/attributed_replies reads: the rebuilt messages, the messages new replies name as
-- their context, and every message to their customers and to new replies' customers (a
-- reply without context goes to the customer's latest message in the window, so a new or
-- moved message may take it from another). Every reply is judged against these: the ones
-- to other customers find none of them.
create or replace temp table rebuilt_messages as
select message_ref from message_lifecycle;

insert into scope_customers
select recipient from message_lifecycle where recipient is not null
union
select customer from new_replies where customer is not null
union
select recipient from messages
where message_id in (select context_id from new_replies) and recipient is not null;

create or replace temp table message_lifecycle as
select message_ref(key, message_id) as message_ref, message_id, sender, recipient, first_event_at
from messages
where recipient in (select customer from scope_customers)
    or message_id in (select context_id from new_replies)
    or message_ref(key, message_id) in (select message_ref from rebuilt_messages);
