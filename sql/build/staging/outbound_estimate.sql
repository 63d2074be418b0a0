-- within: build/staging/message_lifecycle
-- inputs: landing_accepted, landing_template_sends, landing_statuses, landing_errors
-- outputs:
--
-- At most how many outbound events the night has (its landing rows before de-duplication,
-- replies aside): what `message_lifecycle` sizes its parts by. Parquet parts answer a count
-- from their metadata, without reading the rows.
select
    (select count(*) from landing_accepted)
    + (select count(*) from landing_template_sends)
    + (select count(*) from landing_statuses)
    + (select count(*) from landing_errors) as events
