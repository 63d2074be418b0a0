-- The rate-limit incidents that started on the newest message days, the newest first.
with newest_days as (
    select distinct day from delivery_daily order by day desc limit $days
),

final as (
    select
        incident_id,
        sender,
        started_at,
        duration_s,
        events,
        messages,
        array_to_string(codes, ', ') as codes
    from rate_limit_incidents
    where started_at::date in (select day from newest_days)
    order by started_at desc, incident_id
    limit $limit
)

select * from final
