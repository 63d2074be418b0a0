-- SPEC 5 `error_breakdown`: per error day, sender, template and code, the errors and the
-- messages they hit; the template is that of the erring message (SPEC 3).
insert into error_breakdown by name
with message_templates as (
    select message_ref(key, message_id) as message_ref, template from messages
),

errors as (
    select
        errors.event_time::date as day,
        coalesce(errors.sender, 'unknown') as sender,
        coalesce(message_templates.template, '(none)') as template,
        errors.code,
        coalesce(errors.title, errors.message) as title,
        errors.category,
        errors.is_rate_limit,
        errors.retryable,
        message_ref(errors.key, errors.message_id) as message_ref
    from errors
    left join message_templates
        on message_templates.message_ref = message_ref(errors.key, errors.message_id)
    where is_rebuilt_day(errors.event_time::date)
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
    join erring_messages using (day, sender, template)
    left join top_titles
        on top_titles.day = per_code.day
        and top_titles.sender = per_code.sender
        and top_titles.template = per_code.template
        and top_titles.code is not distinct from per_code.code
    left join error_codes on error_codes.code = per_code.code
)

select * from final
