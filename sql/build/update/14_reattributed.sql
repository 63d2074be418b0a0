-- inputs: rejudged_replies, judged_messages, messages, changed_days
-- outputs: reattributed, messages, changed_days, delivery_daily, cost_daily, error_breakdown
--
-- The judged messages whose replied or first reply changed take the new values; then the
-- metric days to count again: every day a message or an error changed on.
create or replace temp table reattributed as
with reply_outcomes as (
    select message_ref, min(reply_at) as first_reply_at
    from rejudged_replies
    group by message_ref
),

judged as (
    select
        judged_messages.message_ref,
        judged_messages.message_day,
        judged_messages.replied as was_replied,
        judged_messages.first_reply_at as was_first_reply_at,
        reply_outcomes.message_ref is not null as replied,
        reply_outcomes.first_reply_at
    from judged_messages
    left join reply_outcomes using (message_ref)
)

select message_ref, replied, first_reply_at, message_day
from judged
where was_replied != replied
    or was_first_reply_at is distinct from first_reply_at;

update messages
set replied = reattributed.replied, first_reply_at = reattributed.first_reply_at
from reattributed
where message_ref(messages.key, messages.message_id) = reattributed.message_ref;

insert into changed_days
select distinct 'messages', message_day, true from reattributed;

insert into changed_days
select distinct 'delivery_daily', day, true from changed_days where table_name = 'messages';
insert into changed_days
select distinct 'cost_daily', day, true from changed_days where table_name = 'messages';
insert into changed_days
select distinct 'error_breakdown', day, true from changed_days where table_name = 'errors';

delete from delivery_daily
where day in (select day from changed_days where table_name = 'delivery_daily');
delete from cost_daily
where day in (select day from changed_days where table_name = 'cost_daily');
delete from error_breakdown
where day in (select day from changed_days where table_name = 'error_breakdown');
