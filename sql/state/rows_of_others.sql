-- Whether a run's landing file (`part`) holds rows of a file not among `uris` (the files read
-- whole): the rows of a file whose storage failed half way are not kept.
select count(*) > 0
from read_parquet($part)
where source_file not in (select unnest($uris))
