-- A warehouse table (variable export_table) to one zstd Parquet file.
copy (
    select * from query_table(getvariable('export_table'))
) to $target (format parquet, compression zstd)
