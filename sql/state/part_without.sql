-- A landing part written again, to `target`, without the rows of the files `uris`.
copy (
    select * from read_parquet($part)
    where source_file not in (select unnest($uris))
) to $target (format parquet, compression zstd)
