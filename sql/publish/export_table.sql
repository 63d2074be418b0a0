-- A warehouse table without a day to one zstd Parquet file.
copy (select * from {{table}}) to $target (format parquet, compression zstd)
