-- A warehouse table (variable export_table) to zstd Parquet, partitioned day=YYYY-MM-DD by the
-- UTC date of its day column (variable day_column); only the days in variable export_days
-- when it is set (an update's changed days: the others are kept from the previous export).
-- Those days are first taken as a range of the column itself (export_from to export_until),
-- which the table's zone maps answer without reading the other days, then one by one.
copy (
    with rows as (
        select
            *,
            columns(lambda name: name = getvariable('day_column')) as day_value
        from query_table(getvariable('export_table'))
    ),

    chosen as (
        select
            * exclude (day_value),
            cast(day_value as date) as day
        from rows
        where getvariable('export_days') is null
            or day_value >= getvariable('export_from') and day_value < getvariable('export_until')
    )

    select * from chosen
    where getvariable('export_days') is null
        or list_contains(getvariable('export_days')::date[], day)
) to $target (format parquet, compression zstd, partition_by (day))
