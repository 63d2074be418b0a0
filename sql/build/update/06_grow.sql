-- inputs: landing_hits, affected_keys, affected_wamids, affected_conversations,
-- inputs: wa_etl_build.link_hashes, statuses
-- outputs: affected_wamids, affected_keys, affected_conversations
--
-- One step of the closure of the affected messages (with `hits`, run until it adds nothing):
-- a key brings the wamids it is linked to, a wamid its keys, by the links the state's events
-- make (contract §3), the new files' events among them. An event belongs to a message by its key,
-- else by the key its wamid is linked to, so every row of an affected message is found by its
-- key or its wamid. A conversation priced per conversation that the warehouse holds brings
-- the wamids of its statuses (one message's charge depends on the others'). Every link of an
-- affected key, wamid or conversation is among the hits: when a step adds nothing, the hits
-- are every row the update rebuilds from.
insert into affected_wamids
select distinct message_id from landing_hits
where key in (select key from affected_keys)
    and message_id is not null
    and message_id not in (select message_id from affected_wamids);

insert into affected_keys
select distinct key from landing_hits
where message_id in (select message_id from affected_wamids)
    and key is not null
    and key not in (select key from affected_keys);

-- only a conversation the warehouse holds (by its hash: `10_link_hashes`) can change: one
-- whose messages are all new is built from the new files' rows, as every new message is
insert into affected_conversations
select distinct conversation_id from landing_hits
semi join wa_etl_build.link_hashes on hash(landing_hits.conversation_id) = link_hashes.link
where conversation_id is not null
    and conversation_id not in (select conversation_id from affected_conversations);

-- the conversation's other messages are the warehouse's (a new one is among the new files')
insert into affected_wamids
select distinct message_id from statuses
semi join affected_conversations using (conversation_id)
where pricing_model = 'CBP'
    and message_id not in (select message_id from affected_wamids);
