-- A warehouse table to zstd Parquet, partitioned day=YYYY-MM-DD by the UTC date of its day
-- column (`rows_by_day`); only the days in $export_days when they are given (an update's
-- changed days: the others are kept from the previous export).
copy (
    from rows_by_day(
        '{{table}}', '{{day_column}}', $export_days::date[], $export_from, $export_until
    )
) to $target (format parquet, compression zstd, partition_by (day))
