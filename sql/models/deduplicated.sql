-- One row per event occurrence of each raw table, duplicates removed (see `deduplicated`).
create or replace temp table deduplicated_accepted as
    from deduplicated('landing_accepted');
create or replace temp table deduplicated_template_sends as
    from deduplicated('landing_template_sends');
create or replace temp table deduplicated_statuses as
    from deduplicated('landing_statuses');
create or replace temp table deduplicated_replies as
    from deduplicated('landing_replies');
create or replace temp table deduplicated_errors as
    from deduplicated('landing_errors');
