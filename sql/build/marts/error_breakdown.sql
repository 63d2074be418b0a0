-- inputs: messages, errors, error_codes, variable rebuild_days
-- outputs: error_breakdown
--
-- `error_breakdown` (contract §5): per error day, sender, template and code, the errors and the
-- messages they hit; the template is that of the erring message (contract §3), NULL when it has
-- none (or the error belongs to no message), as the sender is when no event names it. The
-- errors of a status that is no message (a payment's) count in no metric.
with message_templates as (
    select message_ref(key, message_id) as message_ref, template from messages
),

errors as (
    select
        errors.event_time::date as day,
        errors.sender,
        message_templates.template,
        errors.code,
        errors.title,
        errors.category,
        errors.is_rate_limit,
        errors.retryable,
        message_ref(errors.key, errors.message_id) as message_ref
    from errors
    left join message_templates
        on message_templates.message_ref = message_ref(errors.key, errors.message_id)
    where is_rebuilt_day(errors.event_time::date) and is_message_status(errors.status_type)
),

titles as (
    select day, sender, template, code, title, count(*) as uses
    from errors
    where title is not null
    group by all
),

top_titles as (
    select day, sender, template, code, first(title order by uses desc, title) as title
    from titles
    group by all
),

erring_messages as (
    select day, sender, template, count(distinct message_ref) as messages
    from errors
    group by all
),

per_code as (
    select
        day,
        sender,
        template,
        code,
        any_value(category) as category,
        any_value(is_rate_limit) as is_rate_limit,
        any_value(retryable) as retryable,
        count(*) as events,
        count(distinct message_ref) as messages
    from errors
    group by all
),

final as (
    select
        per_code.*,
        coalesce(top_titles.title, error_codes.title) as title,
        per_code.messages / nullif(erring_messages.messages, 0) as share_of_failed
    from per_code
    join erring_messages
        on erring_messages.day = per_code.day
        and erring_messages.sender is not distinct from per_code.sender
        and erring_messages.template is not distinct from per_code.template
    left join top_titles
        on top_titles.day = per_code.day
        and top_titles.sender is not distinct from per_code.sender
        and top_titles.template is not distinct from per_code.template
        and top_titles.code is not distinct from per_code.code
    left join error_codes on error_codes.code = per_code.code
)

select * from final
