-- Take out of the warehouse the rows the update rebuilds, keeping them (`removed_<table>`):
-- `rebuilt` compares them with the rows put back, and a day whose rows are the same is no
-- changed day (its Parquet partitions are kept). A row's key here is already resolved, which
-- finds the same rows as `landing` does: a key resolved through a wamid is linked to it.
-- The rows are found by their keys first and then read whole by their row ids: reading every
-- column of the table to find them took twice as long. Each lookup is a semi join on one
-- column, which DuckDB skips when the other side is empty (a night of new messages only).
-- A changed day is rewritten in the export (`rewrite`) unless the update only added rows to
-- it (`increment/added`).
create or replace temp table changed_days (table_name varchar, day date, rewrite boolean);

create or replace temp table removed_accepted as
with found as (
    select accepted.rowid as row_id from accepted semi join affected_keys using (key)
    union
    select accepted.rowid as row_id from accepted semi join affected_wamids using (message_id)
)

select rowid as row_id, * from accepted as taken semi join found on taken.rowid = found.row_id;
delete from accepted where rowid in (select row_id from removed_accepted);

create or replace temp table removed_template_sends as
with found as (
    select template_sends.rowid as row_id from template_sends semi join affected_keys using (key)
    union
    select rowid as row_id from template_sends where key is null
)

select rowid as row_id, * from template_sends as taken
semi join found on taken.rowid = found.row_id;
delete from template_sends where rowid in (select row_id from removed_template_sends);

create or replace temp table removed_statuses as
with found as (
    select statuses.rowid as row_id from statuses semi join affected_keys using (key)
    union
    select statuses.rowid as row_id from statuses semi join affected_wamids using (message_id)
)

select rowid as row_id, * from statuses as taken semi join found on taken.rowid = found.row_id;
delete from statuses where rowid in (select row_id from removed_statuses);

create or replace temp table removed_replies as
with found as (
    select replies.rowid as row_id from replies semi join new_replies using (reply_id)
)

select rowid as row_id, * from replies as taken semi join found on taken.rowid = found.row_id;
delete from replies where rowid in (select row_id from removed_replies);

create or replace temp table removed_errors as
with found as (
    select errors.rowid as row_id from errors semi join affected_keys using (key)
    union
    select errors.rowid as row_id from errors semi join affected_wamids using (message_id)
    union
    select rowid as row_id from errors where key is null and message_id is null
)

select rowid as row_id, * from errors as taken semi join found on taken.rowid = found.row_id;
delete from errors where rowid in (select row_id from removed_errors);

create or replace temp table removed_messages as
with found as (
    select messages.rowid as row_id from messages semi join affected_keys using (key)
    union
    select messages.rowid as row_id from messages semi join affected_wamids using (message_id)
)

select rowid as row_id, * from messages as taken semi join found on taken.rowid = found.row_id;
-- their customers (a phone number or a business-scoped user id: both name a customer, and
-- the two never spell the same text): replies may move between their messages and the
-- customers' others
create or replace temp table scope_customers as
with taken_out as (
    select recipient, recipient_user_id from messages
    where rowid in (select row_id from removed_messages)
)

select recipient as customer from taken_out where recipient is not null
union
select recipient_user_id from taken_out where recipient_user_id is not null;
delete from messages where rowid in (select row_id from removed_messages);

delete from rate_limit_incidents;
delete from quarantine;
delete from unclassified;
delete from ingest_files;
