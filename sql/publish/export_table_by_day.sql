-- A warehouse table (variable export_table) to zstd Parquet, partitioned day=YYYY-MM-DD by the
-- UTC date of its day column (variable day_column).
copy (
    select
        *,
        cast(columns(lambda name: name = getvariable('day_column')) as date) as day
    from query_table(getvariable('export_table'))
) to $target (format parquet, compression zstd, partition_by (day))
