-- A digest of the files a manifest lists as read (`{table}`: the state's `manifest`, or the
-- warehouse's `ingest_files`, its copy at the build): the same digest, the same files read
-- the same way, so the warehouse was built from the state as it is.
select md5(coalesce(string_agg(
    concat_ws('|', uri, run_id, content_sha256, modified_at, vanished_at), chr(10) order by uri
), ''))
from {table}
