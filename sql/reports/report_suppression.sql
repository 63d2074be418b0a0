-- The customers each sender should stop writing to (their latest error says they cannot or
-- will not receive), per sender and code, the most first.
with final as (
    select
        sender,
        code,
        count(*) as customers,
        sum(errors)::bigint as errors,
        max(last_seen_at) as last_seen_at
    from suppression_candidates
    group by sender, code
)

select * from final
order by customers desc, sender, code
