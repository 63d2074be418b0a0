-- What the files read since the previous build touch: the files themselves, their replies,
-- and the tracking keys and wamids of their events. `grow` widens these to every message
-- whose rows the new events can change.
create or replace temp table new_files as
select uri as source_file from state.manifest
anti join ingest_files using (uri, run_id);

create or replace temp table new_replies as
select reply_id, customer, context_id from state.landing_replies
semi join new_files using (source_file);

create or replace temp table new_events as
select key, message_id from state.landing_accepted
semi join new_files using (source_file)
union all
select key, null as message_id from state.landing_template_sends
semi join new_files using (source_file)
union all
select key, message_id from state.landing_statuses
semi join new_files using (source_file)
union all
select key, message_id from state.landing_errors
semi join new_files using (source_file);

create or replace temp table affected_keys as
select distinct key from new_events where key is not null;

create or replace temp table affected_wamids as
select distinct message_id from new_events where message_id is not null;

-- the links between tracking keys and wamids that the events of the state make (SPEC 3);
-- a view: `grow` reads it a few times with tight filters, cheaper than making it distinct
create or replace temp view links as
select key, message_id from (
    select key, message_id from state.landing_accepted
    union all
    select key, message_id from state.landing_statuses
    union all
    select key, message_id from state.landing_errors
)
where key is not null and message_id is not null
