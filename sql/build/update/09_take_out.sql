-- for each table: by_message
-- inputs: {{table}}, found_{{table}}
-- outputs: removed_{{table}}, {{table}}
--
-- Take out of a table the rows `08_remove` found, keeping them (`removed_<table>`): `11_rebuilt`
-- compares them with the rows put back, and a day whose rows are the same is no changed day
-- (its Parquet partitions are kept).
create or replace temp table removed_{{table}} as
select rowid as row_id, *
from {{table}} as taken
semi join found_{{table}} on taken.rowid = found_{{table}}.row_id;

delete from {{table}} where rowid in (select row_id from removed_{{table}});
