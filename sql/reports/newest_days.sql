-- The newest message days at a glance, for the run summary: messages, delivery rate,
-- failures, and the rate-limit incidents that started that day.
with days as (
    select
        day,
        sum(attempted) as messages,
        sum(delivered) / nullif(sum(sent), 0) as delivery_rate,
        sum(failed) as failures
    from delivery_daily
    group by day
),

incidents as (
    select started_at::date as day, count(*) as incidents
    from rate_limit_incidents
    group by all
),

final as (
    select days.*, coalesce(incidents.incidents, 0) as incidents
    from days
    left join incidents using (day)
    order by day desc
    limit $days
)

select * from final
