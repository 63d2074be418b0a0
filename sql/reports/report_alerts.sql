-- The alerts of the report's days (from $since), the newest first.
with final as (
    select
        day,
        kind,
        coalesce(sender, '') as sender,
        coalesce(template, '') as template,
        code,
        message,
        first_raised_run_id
    from alerts
    where day >= $since
)

select * from final
order by day desc, kind, sender, template, code
