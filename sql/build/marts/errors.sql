-- inputs: deduplicated_errors, error_codes, message_keys, message_senders
-- outputs: errors
--
-- contract §5 `errors`: one row per error from the four sources, duplicates removed, with the
-- key and sender resolved and the catalogue's category, rate-limit and retryable flags
-- (contract §6; a code the catalogue does not know is `other`, neither rate limit nor retryable).
-- The message_id of a reply error is the customer's message: it links to no key or sender.
with errors as (
    select * from with_identity_of_few('deduplicated_errors')
),

final as (
    select
        errors.*,
        coalesce(error_codes.category, 'other') as category,
        coalesce(error_codes.is_rate_limit, false) as is_rate_limit,
        coalesce(error_codes.retryable, false) as retryable
    from errors
    left join error_codes on error_codes.code = errors.code
)

select * from final
