-- inputs: new_keys, new_wamids, wa_etl_build.link_hashes, accepted, template_sends, statuses,
-- inputs: errors
-- outputs: held_keys, held_wamids, links_of, found_links, affected_keys, affected_wamids,
-- outputs: affected_conversations
--
-- The messages built before that the new events touch: the keys and wamids of the warehouse's
-- rows that share a key or a wamid with a new event (a row's key there is already resolved
-- through its wamid, contract §3). These seed the closure over the landing rows (`hits`, `grow`);
-- the new files' own rows are read as they are. A night of new messages finds none, and then
-- no landing part beyond the new files' is read and no built row is taken out.
--
-- The new keys and wamids are probed first by their hashes (`wa_etl_build.link_hashes`, of
-- every key and wamid the warehouse holds): only those it may hold are looked up among the
-- texts. Each lookup is a semi join on one column, which DuckDB skips when the other side is
-- empty.
create or replace temp table held_keys as
select key from new_keys
semi join wa_etl_build.link_hashes on hash(new_keys.key) = link_hashes.link;

create or replace temp table held_wamids as
select message_id from new_wamids
semi join wa_etl_build.link_hashes on hash(new_wamids.message_id) = link_hashes.link;

create or replace temp macro links_of(built_table) as table
    select key, message_id from query_table(built_table) semi join held_keys using (key)
    union all
    select key, message_id from query_table(built_table) semi join held_wamids using (message_id);

create or replace temp table found_links as
from links_of('accepted')
union all
select key, null as message_id from template_sends semi join held_keys using (key)
union all
from links_of('statuses')
union all
from links_of('errors');

create or replace temp table affected_keys as
select distinct key from found_links where key is not null;

create or replace temp table affected_wamids as
select distinct message_id from found_links where message_id is not null;

-- the conversations (priced per conversation) the closure finds: `grow` adds them
create or replace temp table affected_conversations (conversation_id varchar);
