-- inputs: appended_days, variable added_table, variable day_column
-- outputs:
-- (the rows read are `differing_<added_table>`, of `build/update/11_rebuilt`)
--
-- The rows an update added to a table (variable added_table, partitioned by variable
-- day_column) on the days it only added to: on such a day every row taken out was put back
-- as it was, and no row was changed in place, so the day's rows are the previous export's
-- partition and these: the rows put back more often than taken out (`build/update/11_rebuilt`'s
-- balance below 0; once each, as every row names its file and line, or its message). The
-- export appends them to the partition instead of writing the day again.
with differing as (
    select
        *,
        columns(lambda name: name = getvariable('day_column')) as day_value
    from query_table('differing_' || getvariable('added_table'))
),

only_added as (
    select day from appended_days where table_name = getvariable('added_table')
),

added as (
    select * exclude (day_value, balance)
    from differing
    where balance < 0
        and cast(day_value as date) in (select day from only_added)
)

select * from added
