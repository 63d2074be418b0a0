-- inputs: messages, new_replies, inserted_messages, scope_customers, attributed_replies_of
-- outputs: judged_columns, context_messages, judged_messages, scope_customers, rejudged_replies
--
-- The messages whose replies are judged again (contract §4 replied), `judged_messages`: the
-- rebuilt messages (as `build/marts/messages` put them back, `inserted_messages`), the
-- messages new replies name as their context, and every message to their customers and to
-- new replies' customers (a reply without context goes to the customer's latest message in
-- the window, so a new or moved message may take it from another). Every reply is judged
-- against these by the rule of `build/staging/attributed_replies` (`rejudged_replies`): the
-- ones to other customers find none of them. Each message keeps its day and its present
-- reply outcome, for `14_reattributed`.
create or replace temp macro judged_columns(message_table) as table
    select
        key,
        message_id,
        sender,
        recipient,
        recipient_user_id,
        first_event_at,
        message_day,
        replied,
        first_reply_at
    from query_table(message_table);

create or replace temp table context_messages as
from judged_columns('messages') as judged
semi join new_replies on judged.message_id = new_replies.context_id;

insert into scope_customers
select recipient from inserted_messages where recipient is not null
union
select recipient_user_id from inserted_messages where recipient_user_id is not null
union
select customer from new_replies where customer is not null
union
select customer_user_id from new_replies where customer_user_id is not null
union
select recipient from context_messages where recipient is not null
union
select recipient_user_id from context_messages where recipient_user_id is not null;

create or replace temp table judged_messages as
with to_customers as (
    from judged_columns('messages') as judged
    semi join scope_customers on judged.recipient = scope_customers.customer
    union
    from judged_columns('messages') as judged
    semi join scope_customers on judged.recipient_user_id = scope_customers.customer
),

-- a message with a recipient (or a user id) is among the customers' already
without_recipient as (
    from context_messages where recipient is null and recipient_user_id is null
    union
    from judged_columns('inserted_messages') where recipient is null and recipient_user_id is null
),

scoped as (
    select * from to_customers
    union all
    select * from without_recipient
)

select message_ref(key, message_id) as message_ref, *
from scoped;

-- every reply judged against them
create or replace temp table rejudged_replies as
from attributed_replies_of('judged_messages');
