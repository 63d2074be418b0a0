-- Take out of the warehouse the rows the update rebuilds, noting the days they were on
-- (their Parquet partitions are written again). A row's key here is already resolved, which
-- finds the same rows as `landing` does: a key resolved through a wamid is linked to it.
create or replace temp table changed_days (table_name varchar, day date);

insert into changed_days
select distinct 'accepted', event_time::date from accepted
where key in (select key from affected_keys)
    or message_id in (select message_id from affected_wamids);
delete from accepted
where key in (select key from affected_keys)
    or message_id in (select message_id from affected_wamids);

insert into changed_days
select distinct 'template_sends', event_time::date from template_sends
where key in (select key from affected_keys) or key is null;
delete from template_sends
where key in (select key from affected_keys) or key is null;

insert into changed_days
select distinct 'statuses', event_time::date from statuses
where key in (select key from affected_keys)
    or message_id in (select message_id from affected_wamids);
delete from statuses
where key in (select key from affected_keys)
    or message_id in (select message_id from affected_wamids);

insert into changed_days
select distinct 'replies', event_time::date from replies
where reply_id in (select reply_id from new_replies);
delete from replies
where reply_id in (select reply_id from new_replies);

insert into changed_days
select distinct 'errors', event_time::date from errors
where key in (select key from affected_keys)
    or message_id in (select message_id from affected_wamids)
    or (key is null and message_id is null);
delete from errors
where key in (select key from affected_keys)
    or message_id in (select message_id from affected_wamids)
    or (key is null and message_id is null);

-- their customers: replies may move between their messages and the customers' others
create or replace temp table scope_customers as
select distinct recipient as customer from messages
where (key in (select key from affected_keys)
    or message_id in (select message_id from affected_wamids))
    and recipient is not null;

insert into changed_days
select distinct 'messages', message_day from messages
where key in (select key from affected_keys)
    or message_id in (select message_id from affected_wamids);
delete from messages
where key in (select key from affected_keys)
    or message_id in (select message_id from affected_wamids);

delete from rate_limit_incidents;
delete from quarantine;
delete from unclassified;
delete from ingest_files;
