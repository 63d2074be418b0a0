-- The errors of the report's days (from $since) by code, with the catalogue's category and
-- handling class (what the sender should do about it), the most frequent first.
with codes as (
    select
        code,
        arg_max(title, events) as title,
        any_value(category) as category,
        sum(events)::bigint as events,
        sum(messages)::bigint as messages
    from error_breakdown
    where day >= $since
    group by code
),

final as (
    select
        codes.*,
        coalesce(error_codes.handling, 'review') as handling
    from codes
    left join error_codes using (code)
)

select * from final
order by events desc, code nulls last
