-- The landing rows the update rebuilds from, under the names the models read: the rows
-- `hits` found (every copy of every event of the affected messages, copies share their wamid
-- or key; and the rows that belong to no message), and every reply read again. Each is read
-- whole by its place, which skips the row groups that hold none of them.
create or replace temp macro rows_at(rows_view, places) as table
    select * exclude (part_file, part_row) from query_table(rows_view)
    semi join query_table(places) using (part_file, part_row);

create or replace temp view accepted_hits as
select part_file, part_row from landing_hits where table_name = 'accepted';
create or replace temp table landing_accepted as
from rows_at('landing_rows_accepted', 'accepted_hits');

create or replace temp view template_sends_hits as
select part_file, part_row from landing_hits where table_name = 'template_sends';
create or replace temp table landing_template_sends as
from rows_at('landing_rows_template_sends', 'template_sends_hits');

create or replace temp view statuses_hits as
select part_file, part_row from landing_hits where table_name = 'statuses';
create or replace temp table landing_statuses as
from rows_at('landing_rows_statuses', 'statuses_hits');

create or replace temp view errors_hits as
select part_file, part_row from landing_hits where table_name = 'errors';
create or replace temp table landing_errors as
from rows_at('landing_rows_errors', 'errors_hits');

create or replace temp view replies_read_again as
select part_file, part_row from landing_rows_replies
where reply_id in (select reply_id from new_replies);
create or replace temp table landing_replies as
from rows_at('landing_rows_replies', 'replies_read_again');
