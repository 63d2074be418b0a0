-- SPEC 5 `errors`: one row per error from the four sources, duplicates removed, with the
-- key and sender resolved and the catalogue's category, rate-limit and retryable flags
-- (SPEC 6; a code the catalogue does not know is `other`, neither rate limit nor retryable).
insert into errors by name
with errors as (
    select * from deduplicated_errors
),

keyed as (
    select
        errors.* exclude (key),
        coalesce(errors.key, message_keys.key) as key
    from errors
    left join message_keys
        on errors.source = 'status' and message_keys.message_id = errors.message_id
),

final as (
    select
        keyed.* exclude (sender, envelope_sender, path_sender),
        resolved_sender(
            keyed.sender, message_senders.sender, keyed.envelope_sender, keyed.path_sender
        ) as sender,
        coalesce(error_codes.category, 'other') as category,
        coalesce(error_codes.is_rate_limit, false) as is_rate_limit,
        coalesce(error_codes.retryable, false) as retryable
    from keyed
    left join message_senders
        on keyed.source in ('api_error', 'status')
        and message_senders.message_ref = message_ref(keyed.key, keyed.message_id)
    left join error_codes on error_codes.code = keyed.code
)

select * from final
