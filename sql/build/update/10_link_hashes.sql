-- inputs: accepted, template_sends, statuses, errors, wa_etl_build.link_hashes,
-- inputs: variable link_rows_prefix
-- outputs: wa_etl_build, wa_etl_build.link_hashes, hashes_of
-- (the tables read are `<link_rows_prefix><table>`: the warehouse's own in a full build,
-- the rows an update put back, `inserted_<table>`, in an update)
--
-- The hashes of every tracking key and wamid the warehouse's rows of events hold (`accepted`,
-- `template_sends`, `statuses`, `errors`), and of every conversation priced per conversation
-- its statuses name: what `build/update/04_found` and `06_grow` probe first, so that a
-- night whose keys and wamids are all new reads no text column of the warehouse (9 million
-- texts on a 4 GB night). A full build hashes its tables; an update adds the hashes of the
-- rows it put back (the temp tables `inserted_<table>`), by variable `link_rows_prefix`. Rows
-- taken out keep their hashes, and two texts may share one: the set may say "maybe" of a
-- key the warehouse does not hold (found then looks it up in the texts), never "no" of one
-- it holds.
create schema if not exists wa_etl_build;

create table if not exists wa_etl_build.link_hashes (link ubigint not null);

create or replace temp macro hashes_of(rows_table) as table
    select hash(key) as link from query_table(rows_table) where key is not null
    union all
    select hash(message_id) from query_table(rows_table) where message_id is not null;

insert into wa_etl_build.link_hashes
with links as (
    from hashes_of(getvariable('link_rows_prefix') || 'accepted')
    union all
    select hash(key)
    from query_table(getvariable('link_rows_prefix') || 'template_sends') where key is not null
    union all
    from hashes_of(getvariable('link_rows_prefix') || 'statuses')
    union all
    -- and of the conversations priced per conversation, which `grow` follows
    select hash(conversation_id)
    from query_table(getvariable('link_rows_prefix') || 'statuses')
    where pricing_model = 'CBP' and conversation_id is not null
    union all
    from hashes_of(getvariable('link_rows_prefix') || 'errors')
),

added as (
    select distinct link from links
)

select link from added
anti join wa_etl_build.link_hashes using (link)
