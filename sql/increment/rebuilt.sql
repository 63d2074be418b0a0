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

insert into changed_days
select distinct 'messages', message_day from messages
where report_missing != is_report_missing(sent_at, delivered_at, failed_at);
update messages set report_missing = is_report_missing(sent_at, delivered_at, failed_at)
where report_missing != is_report_missing(sent_at, delivered_at, failed_at);
