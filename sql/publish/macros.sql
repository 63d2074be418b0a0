-- The rows of the table `export_table` with `day`, the UTC date of its column `day_column`;
-- only the `days` given when they are not NULL. Those days are first taken as a range of the
-- column itself (`day_from` to `day_until`), which the table's zone maps answer without
-- reading the other days, then one by one.
create or replace temp macro rows_by_day(export_table, day_column, days, day_from, day_until)
as table
    with rows as (
        select
            *,
            columns(lambda name: name = day_column) as day_value
        from query_table(export_table)
    ),

    chosen as (
        select
            * exclude (day_value),
            cast(day_value as date) as day
        from rows
        where days is null
            or day_value >= day_from
            and day_value < day_until
    )

    select * from chosen
    where days is null
        or list_contains(days, day);
