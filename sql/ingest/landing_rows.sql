-- for each table: raw
-- The landing rows of a raw table in the batch: the pass's rows of the valid lines (the rows
-- of an invalid line are dropped with it), streamed to the task's Parquet file as they are
-- selected, not moved through a table of their own first.
select * exclude (ordinal, is_valid)
from chunk_{{table}}
anti join invalid_lines using (ordinal)
