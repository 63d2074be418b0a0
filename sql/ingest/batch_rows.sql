-- The landing rows of the batch per raw table and file, before they are written to Parquet.
with per_table as (
    select 'accepted' as table_name, source_file from landing_accepted
    union all select 'template_sends', source_file from landing_template_sends
    union all select 'statuses', source_file from landing_statuses
    union all select 'replies', source_file from landing_replies
    union all select 'errors', source_file from landing_errors
)

select
    per_table.table_name,
    batch_files.file_index,
    count(*) as rows
from per_table
join batch_files using (source_file)
group by all
