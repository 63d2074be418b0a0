-- The landing rows of every file read, as views over their Parquet files (the lists of files
-- are set as variables by the build).
create or replace temp view landing_accepted as
    select * from read_parquet(getvariable('landing_accepted'));
create or replace temp view landing_template_sends as
    select * from read_parquet(getvariable('landing_template_sends'));
create or replace temp view landing_statuses as
    select * from read_parquet(getvariable('landing_statuses'));
create or replace temp view landing_replies as
    select * from read_parquet(getvariable('landing_replies'));
create or replace temp view landing_errors as
    select * from read_parquet(getvariable('landing_errors'));
create or replace temp view landing_quarantine as
    select * from read_parquet(getvariable('landing_quarantine'));
create or replace temp view landing_unclassified as
    select * from read_parquet(getvariable('landing_unclassified'));
