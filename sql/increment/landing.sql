-- The landing rows the update rebuilds from, under the names the models read: every copy of
-- every event of the affected messages (copies share their wamid or key), every reply read
-- again, and the few rows that belong to no message (a template send without key, an error
-- with neither key nor wamid), which are always rebuilt.
create or replace temp table landing_accepted as
select * from state.landing_accepted
where key in (select key from affected_keys)
    or message_id in (select message_id from affected_wamids);

create or replace temp table landing_template_sends as
select * from state.landing_template_sends
where key in (select key from affected_keys) or key is null;

create or replace temp table landing_statuses as
select * from state.landing_statuses
where key in (select key from affected_keys)
    or message_id in (select message_id from affected_wamids);

create or replace temp table landing_replies as
select * from state.landing_replies
where reply_id in (select reply_id from new_replies);

create or replace temp table landing_errors as
select * from state.landing_errors
where key in (select key from affected_keys)
    or message_id in (select message_id from affected_wamids)
    or (key is null and message_id is null);
