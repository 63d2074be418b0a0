-- inputs: accepted, template_sends, statuses, replies, errors, messages, affected_keys,
-- inputs: affected_wamids, new_replies
-- outputs: changed_days, found_accepted, found_template_sends, found_statuses, found_replies,
-- outputs: found_errors, found_messages, scope_customers
--
-- The rows of the warehouse the update rebuilds (`found_<table>`, by row id), which
-- `09_take_out` takes out: the rows of the affected messages, found by their keys and wamids
-- (a row's key here is already resolved, which finds the same rows as `07_landing` does: a
-- key resolved through a wamid is linked to it); the rows that belong to no message; the
-- replies read again. The rows are found by their keys first and then read whole by their row
-- ids: reading every column of the table to find them took twice as long. Each lookup is a
-- semi join on one column, which DuckDB skips when the other side is empty (a night of new
-- messages only). The tables built whole are emptied.
--
-- `changed_days`: the days each table changed on, which the export writes again (`rewrite`)
-- unless the update only added rows to them (`build/update/16_added`).
create or replace temp table changed_days (table_name varchar, day date, rewrite boolean);

create or replace temp table found_accepted as
select accepted.rowid as row_id from accepted semi join affected_keys using (key)
union
select accepted.rowid as row_id from accepted semi join affected_wamids using (message_id);

create or replace temp table found_template_sends as
select template_sends.rowid as row_id from template_sends semi join affected_keys using (key)
union
select rowid as row_id from template_sends where key is null;

create or replace temp table found_statuses as
select statuses.rowid as row_id from statuses semi join affected_keys using (key)
union
select statuses.rowid as row_id from statuses semi join affected_wamids using (message_id);

create or replace temp table found_replies as
select replies.rowid as row_id from replies semi join new_replies using (reply_id);

create or replace temp table found_errors as
select errors.rowid as row_id from errors semi join affected_keys using (key)
union
select errors.rowid as row_id from errors semi join affected_wamids using (message_id)
union
select rowid as row_id from errors where key is null and message_id is null;

create or replace temp table found_messages as
select messages.rowid as row_id from messages semi join affected_keys using (key)
union
select messages.rowid as row_id from messages semi join affected_wamids using (message_id);

-- the customers of the messages taken out (a phone number or a business-scoped user id: both
-- name a customer, and the two never spell the same text): replies may move between their
-- messages and the customers' others
create or replace temp table scope_customers as
with taken_out as (
    select recipient, recipient_user_id from messages
    where rowid in (select row_id from found_messages)
)

select recipient as customer from taken_out where recipient is not null
union
select recipient_user_id from taken_out where recipient_user_id is not null;
