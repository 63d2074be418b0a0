-- The rate-limit incidents that started on the newest message days (`$days`), the newest
-- first.
with final as (
    select
        incident_id,
        coalesce(sender, 'unknown') as sender,
        started_at,
        duration_s,
        events,
        messages,
        array_to_string(codes, ', ') as codes,
        approximate
    from rate_limit_incidents
    where started_at::date in (select unnest($days::date[]))
    order by started_at desc, incident_id
    limit $limit
)

select * from final
