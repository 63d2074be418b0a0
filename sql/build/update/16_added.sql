-- for each table: by_message
-- inputs: differing_{{table}}, appended_days, {{table}}
-- outputs: wa_etl_build.added_{{table}}
--
-- The rows an update added to a table on the days it only added to: on such a day every row
-- taken out was put back as it was, and no row was changed in place, so the day's rows are
-- the previous export's partition and these: the rows put back more often than taken out
-- (`11_rebuilt`'s balance below 0; once each, as every row names its file and line, or its
-- message). The export appends them to the partition instead of writing the day again. Kept
-- in the warehouse as `wa_etl_build.added_<table>`, replacing the previous update's.
create or replace table wa_etl_build.added_{{table}} as from {{table}} limit 0;

insert into wa_etl_build.added_{{table}} by name
with only_added as (
    select day from appended_days where table_name = '{{table}}'
),

added as (
    select * exclude (balance)
    from differing_{{table}}
    where balance < 0
        and cast({{day_column}} as date) in (select day from only_added)
)

select * from added;
