-- A warehouse table (variable export_table) that has a `day` column to zstd Parquet,
-- partitioned day=YYYY-MM-DD.
copy (
    select * from query_table(getvariable('export_table'))
) to $target (format parquet, compression zstd, partition_by (day))
