-- inputs: state.manifest, ingest_files
-- outputs: new_files
--
-- The files read since the previous build: those the state lists that the warehouse has not
-- counted (by their run).
create or replace temp table new_files as
select uri as source_file from state.manifest
anti join ingest_files using (uri, run_id)
