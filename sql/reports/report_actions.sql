-- What the senders must act on: the account-level (`stop`) errors of the report's days (from
-- $since), per sender and day, the newest first.
with final as (
    select
        day,
        coalesce(sender, 'unknown') as sender,
        array_to_string(codes, ', ') as codes,
        errors,
        messages,
        last_at
    from stop_events
    where day >= $since
)

select * from final
order by day desc, errors desc, sender
