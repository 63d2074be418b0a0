-- inputs: messages, errors, variable incident_gap_seconds
-- outputs: rate_limit_incidents
--
-- `rate_limit_incidents` (contract §5): the rate-limit errors of one sender, ordered by event
-- time, belong to one incident while each follows the previous within the gap (a setting,
-- 300 s: exactly the gap apart still belongs, one second more starts a new incident). An
-- incident is `approximate` when one of its errors has only a folder's or a file's time: an
-- archive without envelopes puts every API error of an hour at the hour's start, unless its
-- message's template send gives it a time (`event_time_source` message).
with message_templates as (
    select message_ref(key, message_id) as message_ref, template from messages
),

rate_limits as (
    select
        errors.sender,
        errors.event_time,
        errors.event_time_source in ('path', 'file') as is_approximate,
        errors.code,
        message_ref(errors.key, errors.message_id) as message_ref,
        message_templates.template,
        errors.source_file,
        errors.line_no
    from errors
    left join message_templates
        on message_templates.message_ref = message_ref(errors.key, errors.message_id)
    where errors.is_rate_limit and is_message_status(errors.status_type)
),

starts as (
    select
        *,
        coalesce(
            event_time - lag(event_time) over by_time
                > to_seconds(getvariable('incident_gap_seconds')),
            true
        ) as starts_incident
    from rate_limits
    window by_time as (partition by sender order by event_time, source_file, line_no)
),

numbered as (
    select
        *,
        sum(starts_incident::int) over (
            partition by sender order by event_time, source_file, line_no
            rows unbounded preceding
        ) as incident_no
    from starts
),

peaks as (
    select sender, incident_no, max(events) as peak_events_per_minute
    from (
        select sender, incident_no, date_trunc('minute', event_time), count(*) as events
        from numbered
        group by all
    )
    group by all
),

incidents as (
    select
        sender,
        incident_no,
        min(event_time) as started_at,
        max(event_time) as ended_at,
        count(*) as events,
        count(distinct message_ref) as messages,
        list_sort(list_distinct(list(code))) as codes,
        list_sort(list_distinct(list(template))) as templates,
        bool_or(is_approximate) as approximate
    from numbered
    group by all
),

final as (
    select
        'rl-' || left(
            md5(coalesce(incidents.sender, '') || '|' || strftime(started_at, '%Y-%m-%dT%H:%M:%S.%fZ')),
            16
        ) as incident_id,
        incidents.sender,
        started_at,
        ended_at,
        epoch(ended_at - started_at) as duration_s,
        events,
        messages,
        codes,
        templates,
        peaks.peak_events_per_minute,
        approximate
    from incidents
    join peaks
        on peaks.sender is not distinct from incidents.sender
        and peaks.incident_no = incidents.incident_no
)

select * from final
