-- What built the warehouse, kept beside the tables in their own schema so that the next
-- night can tell whether this warehouse may be updated (increment/applicable), and which
-- export version was published with it (the run's id names it).
create schema if not exists wa_etl_build;
create or replace table wa_etl_build.info as
select
    $fingerprint as fingerprint,
    $run_id as run_id,
    $built_at::timestamptz as built_at,
    $updated as updated
