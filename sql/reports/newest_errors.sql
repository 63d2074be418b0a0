-- The most frequent error codes of the newest days (`$days`), over all senders and templates.
with final as (
    select
        code,
        arg_max(title, events) as title,
        any_value(category) as category,
        sum(events)::bigint as events,
        sum(messages)::bigint as messages
    from error_breakdown
    where day in (select unnest($days::date[]))
    group by code
    order by events desc, code
    limit $limit
)

select * from final
