-- inputs: state.manifest
-- outputs: ingest_files
--
-- contract §5 `ingest_files`: one row per archive file read, with its line accounting (the
-- state's manifest).
select * from state.manifest
