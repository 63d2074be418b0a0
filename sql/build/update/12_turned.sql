-- inputs: inserted_errors, differing_messages, messages, changed_days, variable as_of,
-- inputs: variable report_missing_hours
-- outputs: turned, changed_days, messages
--
-- After the days each table changed on (`11_rebuilt`): the error breakdown's days that change
-- with their messages, and the messages whose report_missing the new as_of turns (contract §4:
-- judged at the run's as_of, which moves with the archive).
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
