-- A warehouse table (variable export_table) to zstd Parquet, partitioned day=YYYY-MM-DD by the
-- UTC date of its day column (variable day_column); only the days in variable export_days
-- when it is set (an update's changed days: the others are kept from the previous export).
copy (
    select * from (
        select
            *,
            cast(columns(lambda name: name = getvariable('day_column')) as date) as day
        from query_table(getvariable('export_table'))
    )
    where getvariable('export_days') is null
        or list_contains(getvariable('export_days')::date[], day)
) to $target (format parquet, compression zstd, partition_by (day))
