-- inputs: variable as_of, variable newest_event_at
-- outputs: wa_etl_build, wa_etl_build.info
--
-- What built the warehouse, kept beside the tables in their own schema so that the next
-- night can tell whether this warehouse may be updated (build/update/01_applicable), which export
-- version was published with it (the run's id names it), and the as-of time its
-- report_missing was judged at (which also tells the days still filling).
create schema if not exists wa_etl_build;
create or replace table wa_etl_build.info as
select
    $fingerprint as fingerprint,
    $run_id as run_id,
    $built_at::timestamptz as built_at,
    $updated as updated,
    getvariable('as_of')::timestamptz as as_of,
    getvariable('newest_event_at')::timestamptz as newest_event_at
