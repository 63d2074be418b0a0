-- contract §5 `ingest_files`: one row per archive file read, with its line accounting (the
-- state's manifest).
insert into ingest_files by name
select * from state.manifest
