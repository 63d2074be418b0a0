-- Where each line of the batch is (its file and line number, and what the file's path and
-- the run say about it), by its ordinal in the batch: what every pass's rows take with them.
create or replace temp table line_origins as
select
    line_numbers.ordinal,
    line_numbers.file_index,
    line_numbers.line_no,
    batch_files.source_file,
    batch_files.ingested_at,
    batch_files.path_time,
    batch_files.path_sender,
    batch_files.file_time
from line_numbers
join batch_files using (file_index)
