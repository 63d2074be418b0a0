-- The landing parts (variable-length list `files`) that hold rows of the files `uris`.
select distinct filename
from read_parquet($files, filename = true)
where source_file in (select unnest($uris))
