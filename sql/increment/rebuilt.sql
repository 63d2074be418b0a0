-- After the rebuilt rows are in: the days they are on, and the messages whose report_missing
-- the new as_of turns (SPEC 4: judged at the run's as_of, which moves with the archive).
insert into changed_days
select distinct 'accepted', event_time::date from deduplicated_accepted;
insert into changed_days
select distinct 'template_sends', event_time::date from deduplicated_template_sends;
insert into changed_days
select distinct 'statuses', event_time::date from deduplicated_statuses;
insert into changed_days
select distinct 'replies', event_time::date from deduplicated_replies;
insert into changed_days
select distinct 'errors', event_time::date from deduplicated_errors;
insert into changed_days
select distinct 'messages', first_event_at::date from message_lifecycle;

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
