-- The landing rows the update rebuilds from, under the names the models read: the rows
-- `hits` found (every copy of every event of the affected messages, copies share their wamid
-- or key; and the rows that belong to no message), and every reply read again. Each is read
-- whole by its place, which skips the row groups that hold none of them.
create or replace temp table landing_accepted as
select * exclude (part_file, part_row) from landing_rows_accepted
semi join (select part_file, part_row from landing_hits where table_name = 'accepted')
    using (part_file, part_row);

create or replace temp table landing_template_sends as
select * exclude (part_file, part_row) from landing_rows_template_sends
semi join (select part_file, part_row from landing_hits where table_name = 'template_sends')
    using (part_file, part_row);

create or replace temp table landing_statuses as
select * exclude (part_file, part_row) from landing_rows_statuses
semi join (select part_file, part_row from landing_hits where table_name = 'statuses')
    using (part_file, part_row);

create or replace temp table landing_errors as
select * exclude (part_file, part_row) from landing_rows_errors
semi join (select part_file, part_row from landing_hits where table_name = 'errors')
    using (part_file, part_row);

create or replace temp table landing_replies as
with read_again as (
    select part_file, part_row from landing_rows_replies
    where reply_id in (select reply_id from new_replies)
)

select * exclude (part_file, part_row) from landing_rows_replies
semi join read_again using (part_file, part_row);
