-- The template and language each tracking key was sent with: its first template send (by event
-- time, then file and line). The same rows as the table `template_sends` (an update's are
-- just its messages').
create or replace temp table template_of_key as
with sends as (
    select
        key,
        template,
        language,
        event_time,
        source_file,
        line_no
    from deduplicated_template_sends
    where key is not null
),

first_send as (
    select
        key,
        template,
        language
    from sends
    qualify row_number() over (partition by key order by event_time, source_file, line_no) = 1
)

select * from first_send
