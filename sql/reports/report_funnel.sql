-- The funnel of each sender and template over the report's days (from $since): how many
-- messages reached each stage, attempted -> accepted -> sent -> delivered -> read ->
-- replied, the busiest pairs first. The labels of an unknown sender and a missing template
-- are the reports' own.
with final as (
    select
        coalesce(sender, 'unknown') as sender,
        coalesce(template, '(none)') as template,
        sum(attempted)::bigint as attempted,
        sum(accepted)::bigint as accepted,
        sum(sent)::bigint as sent,
        sum(delivered)::bigint as delivered,
        sum(read)::bigint as read,
        sum(replied)::bigint as replied,
        sum(failed)::bigint as failed
    from delivery_daily
    where day >= $since
    group by all
)

select * from final
order by attempted desc, sender, template
