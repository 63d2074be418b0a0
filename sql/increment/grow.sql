-- One step of the closure of the affected messages (run until it adds nothing): a key brings
-- the wamids it is linked to, a wamid its keys. An event belongs to a message by its key,
-- else by the key its wamid is linked to (SPEC 3), so every row of an affected message is
-- found by its key or its wamid.
insert into affected_wamids
select distinct message_id from links
where key in (select key from affected_keys)
    and message_id not in (select message_id from affected_wamids);

insert into affected_keys
select distinct key from links
where message_id in (select message_id from affected_wamids)
    and key not in (select key from affected_keys);
