-- The landing rows the update rebuilds from, under the names the models read: the rows
-- `hits` found (every copy of every event of the affected messages, copies share their wamid
-- or key; the rows that belong to no message; every reply read again). Each is read whole by
-- its place, which skips the row groups that hold none of them.
create or replace temp macro hit_rows(rows_view, hit_table) as table
    select * exclude (part_file, part_row) from query_table(rows_view)
    semi join (
        select part_file, part_row from landing_hits where table_name = hit_table
    ) using (part_file, part_row);

create or replace temp table landing_accepted as
from hit_rows('landing_rows_accepted', 'accepted');

create or replace temp table landing_template_sends as
from hit_rows('landing_rows_template_sends', 'template_sends');

create or replace temp table landing_statuses as
from hit_rows('landing_rows_statuses', 'statuses');

create or replace temp table landing_replies as
from hit_rows('landing_rows_replies', 'replies');

create or replace temp table landing_errors as
from hit_rows('landing_rows_errors', 'errors');
