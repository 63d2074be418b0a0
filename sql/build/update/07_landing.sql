-- for each table: raw
-- inputs: landing_rows_{{table}}, landing_hits
-- outputs: hit_rows, landing_{{table}}
--
-- The landing rows the update rebuilds from, under the names the models read: the rows
-- `hits` found (every copy of every event of the affected messages, copies share their wamid
-- or key; the rows that belong to no message; every reply read again). Each is read whole by
-- its place, which skips the row groups that hold none of them.
create or replace temp macro hit_rows(rows_view, hit_table) as table
    select * exclude (part_file, part_row) from query_table(rows_view)
    semi join (
        select part_file, part_row from landing_hits where table_name = hit_table
    ) using (part_file, part_row);

create or replace temp table landing_{{table}} as
from hit_rows('landing_rows_{{table}}', '{{table}}');
