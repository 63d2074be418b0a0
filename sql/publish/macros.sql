-- The rows of table `export_table` with `day`, the UTC date of its day column
-- (variable day_column); only the days in variable export_days when it is set. Those days
-- are first taken as a range of the column itself (export_from to export_until), which the
-- table's zone maps answer without reading the other days, then one by one.
create or replace temp macro rows_by_day(export_table) as table
    with rows as (
        select
            *,
            columns(lambda name: name = getvariable('day_column')) as day_value
        from query_table(export_table)
    ),

    chosen as (
        select
            * exclude (day_value),
            cast(day_value as date) as day
        from rows
        where getvariable('export_days') is null
            or day_value >= getvariable('export_from')
            and day_value < getvariable('export_until')
    )

    select * from chosen
    where getvariable('export_days') is null
        or list_contains(getvariable('export_days')::date[], day);
