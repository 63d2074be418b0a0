-- Move the batch's rows of valid lines to the landing tables (typed by the table models); the
-- rows of an invalid line are dropped with it.
insert into landing_accepted by name
    select * exclude (ordinal, is_valid) from chunk_accepted anti join invalid_lines using (ordinal);
insert into landing_template_sends by name
    select * exclude (ordinal, is_valid) from chunk_template_sends anti join invalid_lines using (ordinal);
insert into landing_statuses by name
    select * exclude (ordinal, is_valid) from chunk_statuses anti join invalid_lines using (ordinal);
insert into landing_replies by name
    select * exclude (ordinal, is_valid) from chunk_replies anti join invalid_lines using (ordinal);
insert into landing_errors by name
    select * exclude (ordinal, is_valid) from chunk_errors anti join invalid_lines using (ordinal);
