-- The newest message days at a glance, for the run summary: messages, delivery rate,
-- failures, the list-rate cost, and the rate-limit incidents that started that day; the
-- newest complete day first, then the days after it, still filling (a day is complete once a day has passed since
-- its end at the warehouse's as-of time: its late statuses have come in).
with days as (
    select
        day,
        sum(attempted)::bigint as messages,
        sum(delivered) / nullif(sum(sent), 0) as delivery_rate,
        sum(failed)::bigint as failures,
        sum(cost) as cost
    from delivery_daily
    group by day
),

incidents as (
    select started_at::date as day, count(*) as incidents
    from rate_limit_incidents
    group by all
),

marked as (
    select
        days.*,
        days.day <= (select as_of from wa_etl_build.info)::date - 2 as complete
    from days
),

newest_complete as (
    select max(day) as day from marked where complete
),

final as (
    select
        marked.*,
        coalesce(incidents.incidents, 0) as incidents
    from marked
    left join incidents using (day)
    where marked.day >= coalesce((select day from newest_complete), (select min(day) from marked))
    order by complete desc, day desc
    limit $days
)

select * from final
