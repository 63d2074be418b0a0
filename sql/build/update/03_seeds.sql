-- inputs: new_rows_replies, new_rows_accepted, new_rows_template_sends, new_rows_statuses,
-- inputs: new_rows_errors, new_files
-- outputs: new_replies, new_events, new_keys, new_wamids
--
-- What the files read since the previous build (`new_files`) touch: their replies, and the
-- tracking keys and wamids of their events, read from the parts that hold their rows
-- (`new_rows_<table>`). `found` looks these up among the rows the warehouse already holds;
-- `hits` and `grow` widen what it finds to every message whose rows the new events can change.
create or replace temp table new_replies as
select reply_id, customer, customer_user_id, context_id from new_rows_replies
semi join new_files using (source_file);

create or replace temp table new_events as
select key, message_id from new_rows_accepted
semi join new_files using (source_file)
union all
select key, null as message_id from new_rows_template_sends
semi join new_files using (source_file)
union all
select key, message_id from new_rows_statuses
semi join new_files using (source_file)
union all
select key, message_id from new_rows_errors
semi join new_files using (source_file);

create or replace temp table new_keys as
select distinct key from new_events where key is not null;

create or replace temp table new_wamids as
select distinct message_id from new_events where message_id is not null;
