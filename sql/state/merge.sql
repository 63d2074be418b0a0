-- One run's reading into the state, in one transaction (the caller's): the rows of the files
-- it read replace their rows of earlier nights; a file that could not be read keeps them.
-- The raw tables' rows are Parquet parts the caller lists (transforms/state/parts.py); here the
-- quarantined and unclassified lines and the manifest.
-- Variables: read_uris (the files read whole), landing_<table> (this run's Parquet files),
-- listed_uris and vanished_uris (the listing's files and those it lost), retouched_uris and
-- retouched_times (files with a new modification time and the same bytes, not read again).
delete from quarantine where source_file in (select unnest(getvariable('read_uris')));
delete from unclassified where source_file in (select unnest(getvariable('read_uris')));
delete from manifest where uri in (select unnest(getvariable('read_uris')));

insert into quarantine by name
    select * from read_parquet(getvariable('landing_quarantine'))
    where source_file in (select unnest(getvariable('read_uris')));
insert into unclassified by name
    select * from read_parquet(getvariable('landing_unclassified'))
    where source_file in (select unnest(getvariable('read_uris')));
insert into manifest by name
    select * from file_reports;

-- a file the listing no longer shows keeps its rows; the manifest says since when it is gone
update manifest set vanished_at = getvariable('run_started')
    where uri in (select unnest(getvariable('vanished_uris'))) and vanished_at is null;
update manifest set vanished_at = null
    where uri in (select unnest(getvariable('listed_uris')));

-- a file touched or copied again with the same bytes keeps its rows and its new time
update manifest set modified_at = retouched.modified_at
    from (
        select
            unnest(getvariable('retouched_uris')::varchar[]) as uri,
            unnest(getvariable('retouched_times')::timestamptz[]) as modified_at
    ) as retouched
    where manifest.uri = retouched.uri;

-- The personal-data setting (and key) and the version of the reading the state's rows were
-- read under: rows read otherwise must not be mixed with these (transforms/state/store.py reads the
-- archive again).
delete from settings;
insert into settings values (getvariable('pii'), getvariable('reader'));
