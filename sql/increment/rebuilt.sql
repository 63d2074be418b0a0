-- After the rebuilt rows are in: the days on which they differ from the rows taken out
-- (`remove`), and the messages whose report_missing the new as_of turns (SPEC 4: judged at
-- the run's as_of, which moves with the archive). A rebuilt row equal to the one it replaces
-- (an event read again, an error of no message) changes no day. The rows that differ are
-- those whose copies taken out and put back do not balance: one aggregate over both, in a
-- third of the time of two `except all`.
create or replace temp macro differing(removed, inserted) as table
    with sides as (
        select * exclude (row_id), 1 as side from query_table(removed)
        union all by name
        select *, -1 as side from query_table(inserted)
    ),

    balanced as (
        select * exclude (side), sum(side) as balance from sides group by all
    )

    select * exclude (balance) from balanced where balance != 0;

insert into changed_days
select distinct 'accepted', event_time::date
from differing('removed_accepted', 'inserted_accepted');
insert into changed_days
select distinct 'template_sends', event_time::date
from differing('removed_template_sends', 'inserted_template_sends');
insert into changed_days
select distinct 'statuses', event_time::date
from differing('removed_statuses', 'inserted_statuses');
insert into changed_days
select distinct 'replies', event_time::date
from differing('removed_replies', 'inserted_replies');
insert into changed_days
select distinct 'errors', event_time::date
from differing('removed_errors', 'inserted_errors');
create or replace temp table changed_messages as
from differing('removed_messages', 'inserted_messages');
insert into changed_days
select distinct 'messages', message_day from changed_messages;
-- an error's breakdown row takes its message's template: the days of the errors of the
-- messages that changed, whether or not the errors did
insert into changed_days
select distinct 'error_breakdown', event_time::date from inserted_errors
where message_ref(key, message_id) in (
    select message_ref(key, message_id) from changed_messages
);

-- only a message sent and neither delivered nor failed can be or become report_missing
create or replace temp table turned as
select rowid as row_id, message_day from messages
where sent_at is not null
    and delivered_at is null
    and failed_at is null
    and report_missing != is_report_missing(sent_at, delivered_at, failed_at);

insert into changed_days
select distinct 'messages', message_day from turned;
update messages set report_missing = not report_missing
where rowid in (select row_id from turned);
