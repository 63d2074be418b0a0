-- One row per event occurrence of each raw table: the landing rows without the later copies
-- of an event (`later_copies`).
create or replace temp table later_copies_accepted as
    from later_copies('landing_accepted');
create or replace temp view deduplicated_accepted as
    select * exclude (dedupe_key, seq) from landing_accepted
    anti join later_copies_accepted using (source_file, line_no, seq);
create or replace temp table later_copies_template_sends as
    from later_copies('landing_template_sends');
create or replace temp view deduplicated_template_sends as
    select * exclude (dedupe_key, seq) from landing_template_sends
    anti join later_copies_template_sends using (source_file, line_no, seq);
create or replace temp table later_copies_statuses as
    from later_copies('landing_statuses');
create or replace temp view deduplicated_statuses as
    select * exclude (dedupe_key, seq) from landing_statuses
    anti join later_copies_statuses using (source_file, line_no, seq);
create or replace temp table later_copies_replies as
    from later_copies('landing_replies');
create or replace temp view deduplicated_replies as
    select * exclude (dedupe_key, seq) from landing_replies
    anti join later_copies_replies using (source_file, line_no, seq);
create or replace temp table later_copies_errors as
    from later_copies('landing_errors');
create or replace temp view deduplicated_errors as
    select * exclude (dedupe_key, seq) from landing_errors
    anti join later_copies_errors using (source_file, line_no, seq);
