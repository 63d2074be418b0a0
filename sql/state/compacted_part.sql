-- Landing parts (`files`) written as one, to `target`.
copy (
    select * from read_parquet($files)
) to $target (format parquet, compression zstd)
