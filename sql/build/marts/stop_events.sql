-- inputs: errors, error_codes
-- outputs: stop_events
--
-- `stop_events` (contract §8, actions): one row per sender and error day with errors of
-- handling class `stop` (contract §6: the account must be fixed before it sends again, as
-- 131042 payment, 368 policy block and 190 expired token say), with their codes, how many
-- errors and messages, and the first and the last.
with stop_errors as (
    select
        errors.event_time::date as day,
        errors.sender,
        errors.code,
        message_ref(errors.key, errors.message_id) as message_ref,
        errors.event_time
    from errors
    join error_codes using (code)
    where error_codes.handling = 'stop'
        and is_message_status(errors.status_type)
),

final as (
    select
        day,
        sender,
        list_sort(list_distinct(list(code))) as codes,
        count(*) as errors,
        count(distinct message_ref) as messages,
        min(event_time) as first_at,
        max(event_time) as last_at
    from stop_errors
    group by day, sender
)

select * from final
