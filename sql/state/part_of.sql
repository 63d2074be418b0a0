-- A run's landing file (`part`) written to `target` with only the rows of the files `uris`.
copy (
    select * from read_parquet($part)
    where source_file in (select unnest($uris))
) to $target (format parquet, compression zstd)
