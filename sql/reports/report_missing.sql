-- The messages without a delivery report (sent, neither delivered nor failed, for longer than
-- the setting) per day, sender and template over the report's days (from $since), of how many
-- sent.
with final as (
    select
        day,
        coalesce(sender, 'unknown') as sender,
        coalesce(template, '(none)') as template,
        sum(report_missing)::bigint as report_missing,
        sum(sent)::bigint as sent
    from delivery_daily
    where day >= $since
    group by all
    having sum(report_missing) > 0
)

select * from final
order by day desc, report_missing desc, sender, template
