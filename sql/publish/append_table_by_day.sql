-- The rows an update added to a table (`wa_etl_build.added_<table>`) on the days in
-- $export_days (`rows_by_day`), as one more zstd Parquet file in each of those days'
-- partitions day=YYYY-MM-DD, beside the files kept from the previous export: a name of its
-- own (a UUID), so nothing there is written over.
copy (
    from rows_by_day(
        'wa_etl_build.added_{{table}}',
        '{{day_column}}',
        $export_days::date[],
        $export_from,
        $export_until
    )
) to $target (
    format parquet,
    compression zstd,
    partition_by (day),
    overwrite_or_ignore,
    filename_pattern 'data_{uuid}'
)
