-- The rate-limit incidents that started on the report's days (from $since), in time order.
with final as (
    select
        incident_id,
        coalesce(sender, 'unknown') as sender,
        started_at,
        ended_at,
        duration_s,
        events,
        messages,
        array_to_string(codes, ', ') as codes,
        approximate
    from rate_limit_incidents
    where started_at::date >= $since
)

select * from final
order by started_at, incident_id
