-- A warehouse table (variable export_table) that has a `day` column to zstd Parquet,
-- partitioned day=YYYY-MM-DD; only the days in variable export_days when it is set.
copy (
    select * from query_table(getvariable('export_table'))
    where getvariable('export_days') is null
        or list_contains(getvariable('export_days')::date[], day)
) to $target (format parquet, compression zstd, partition_by (day))
