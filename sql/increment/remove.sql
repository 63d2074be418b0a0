-- Take out of the warehouse the rows the update rebuilds, noting the days they were on
-- (their Parquet partitions are written again). A row's key here is already resolved, which
-- finds the same rows as `landing` does: a key resolved through a wamid is linked to it.
create or replace temp table changed_days (table_name varchar, day date);

create or replace temp table removed_accepted as
select rowid as row_id, event_time::date as day from accepted
where key in (select key from affected_keys)
    or message_id in (select message_id from affected_wamids);
insert into changed_days select distinct 'accepted', day from removed_accepted;
delete from accepted where rowid in (select row_id from removed_accepted);

create or replace temp table removed_template_sends as
select rowid as row_id, event_time::date as day from template_sends
where key in (select key from affected_keys) or key is null;
insert into changed_days select distinct 'template_sends', day from removed_template_sends;
delete from template_sends where rowid in (select row_id from removed_template_sends);

create or replace temp table removed_statuses as
select rowid as row_id, event_time::date as day from statuses
where key in (select key from affected_keys)
    or message_id in (select message_id from affected_wamids);
insert into changed_days select distinct 'statuses', day from removed_statuses;
delete from statuses where rowid in (select row_id from removed_statuses);

create or replace temp table removed_replies as
select rowid as row_id, event_time::date as day from replies
where reply_id in (select reply_id from new_replies);
insert into changed_days select distinct 'replies', day from removed_replies;
delete from replies where rowid in (select row_id from removed_replies);

create or replace temp table removed_errors as
select rowid as row_id, event_time::date as day from errors
where key in (select key from affected_keys)
    or message_id in (select message_id from affected_wamids)
    or (key is null and message_id is null);
insert into changed_days select distinct 'errors', day from removed_errors;
delete from errors where rowid in (select row_id from removed_errors);

create or replace temp table removed_messages as
select rowid as row_id, message_day as day from messages
where key in (select key from affected_keys)
    or message_id in (select message_id from affected_wamids);
-- their customers: replies may move between their messages and the customers' others
create or replace temp table scope_customers as
select distinct recipient as customer from messages
where rowid in (select row_id from removed_messages) and recipient is not null;
insert into changed_days select distinct 'messages', day from removed_messages;
delete from messages where rowid in (select row_id from removed_messages);

delete from rate_limit_incidents;
delete from quarantine;
delete from unclassified;
delete from ingest_files;
