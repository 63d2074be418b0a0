-- After the rebuilt rows are in: the days on which they differ from the rows taken out
-- (`remove`), and the messages whose report_missing the new as_of turns (contract §4: judged at
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

    select * from balanced where balance != 0;

-- `balance` is how many more times a row was taken out than put back: a day with a positive
-- one lost or changed a row and is rewritten; a day with only negative ones gained rows.
create or replace temp table differing_accepted as
from differing('removed_accepted', 'inserted_accepted');
create or replace temp table differing_template_sends as
from differing('removed_template_sends', 'inserted_template_sends');
create or replace temp table differing_statuses as
from differing('removed_statuses', 'inserted_statuses');
create or replace temp table differing_replies as
from differing('removed_replies', 'inserted_replies');
create or replace temp table differing_errors as
from differing('removed_errors', 'inserted_errors');
create or replace temp table differing_messages as
from differing('removed_messages', 'inserted_messages');

insert into changed_days
select 'accepted', event_time::date, bool_or(balance > 0) from differing_accepted group by all;
insert into changed_days
select 'template_sends', event_time::date, bool_or(balance > 0)
from differing_template_sends group by all;
insert into changed_days
select 'statuses', event_time::date, bool_or(balance > 0) from differing_statuses group by all;
insert into changed_days
select 'replies', event_time::date, bool_or(balance > 0) from differing_replies group by all;
insert into changed_days
select 'errors', event_time::date, bool_or(balance > 0) from differing_errors group by all;
insert into changed_days
select 'messages', message_day, bool_or(balance > 0) from differing_messages group by all;
-- an error's breakdown row takes its message's template: the days of the errors of the
-- messages that changed, whether or not the errors did
insert into changed_days
select distinct 'error_breakdown', event_time::date, true from inserted_errors
where message_ref(key, message_id) in (
    select message_ref(key, message_id) from differing_messages
);

-- only a message sent and neither delivered nor failed can be or become report_missing
create or replace temp table turned as
select rowid as row_id, message_day from messages
where sent_at is not null
    and delivered_at is null
    and failed_at is null
    and report_missing != is_report_missing(sent_at, delivered_at, failed_at);

-- rows changed in place: their days are rewritten
insert into changed_days
select distinct 'messages', message_day, true from turned;
update messages set report_missing = not report_missing
where rowid in (select row_id from turned);
