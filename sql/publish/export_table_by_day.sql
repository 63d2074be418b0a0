-- A warehouse table (variable export_table) to zstd Parquet, partitioned day=YYYY-MM-DD by the
-- UTC date of its day column (`rows_by_day`); only the days in variable export_days when it
-- is set (an update's changed days: the others are kept from the previous export).
copy (from rows_by_day(getvariable('export_table')))
to $target (format parquet, compression zstd, partition_by (day))
