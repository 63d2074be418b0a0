-- A warehouse table that has a `day` column to zstd Parquet, partitioned day=YYYY-MM-DD; only
-- the days in $export_days when they are given.
copy (
    select * from {{table}}
    where $export_days::date[] is null
        or list_contains($export_days::date[], day)
) to $target (format parquet, compression zstd, partition_by (day))
