-- inputs: wa_etl_build.info, ingest_files, state.manifest
-- outputs:
--
-- Whether the previous warehouse (this connection's database, a copy) can be updated instead
-- of built anew: it was built by this version with these settings (`fingerprint`), and every
-- file it was built from is still in the state as the same read. A file read again, or
-- forgotten by a full refresh, took rows away that only a full build finds again.
with previous_build as (
    select fingerprint from wa_etl_build.info
),

lost_files as (
    select uri from ingest_files
    anti join state.manifest using (uri, run_id, content_sha256)
)

select
    coalesce((select any_value(fingerprint) from previous_build) = $fingerprint, false)
        as same_build,
    (select count(*) from lost_files) as lost_files
