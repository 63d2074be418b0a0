-- `alerts` (docs/alerts.md): what somebody should look at, from the warehouse's tables and its
-- runs, raised again whole at each publish (so that an update night gives a full one's rows).
-- Reads delivery_daily, error_breakdown, error_codes, rate_limit_incidents, runs, the
-- warehouse's as-of (`wa_etl_build.info`) and `earlier_alerts` (the alerts of the warehouse
-- published before, for the run that first raised each); the thresholds are settings.
delete from alerts;

insert into alerts by name
with as_of as (
    select as_of from wa_etl_build.info
),

-- delivery_drop: a day's delivery rate of a sender and template against the same pair's
-- delivered / sent pooled over the days before; only complete days (a day still fills until a
-- day has passed since its end at the as-of time: its late delivery reports come in)
judged_days as (
    select day, sender, template, sent, delivered
    from delivery_daily
    where sent >= $drop_min_sent
        and day <= (select as_of from as_of)::date - 2
),

baselines as (
    select
        judged.day,
        judged.sender,
        judged.template,
        judged.sent,
        judged.delivered / judged.sent as rate,
        sum(before.delivered) / nullif(sum(before.sent), 0) as baseline,
        sum(before.sent)::bigint as baseline_sent
    from judged_days as judged
    join delivery_daily as before
        on before.sender is not distinct from judged.sender
        and before.template is not distinct from judged.template
        and before.day >= judged.day - $drop_baseline_days
        and before.day < judged.day
    group by all
),

delivery_drops as (
    select
        'delivery_drop' as kind,
        sender,
        template,
        day,
        rate as value,
        baseline,
        $drop_points / 100 as threshold,
        printf(
            'delivery rate %.1f%% of %,d sent, %.1f points below %.1f%% (%,d sent over the %d days before)',
            rate * 100, sent, (baseline - rate) * 100, baseline * 100, baseline_sent,
            $drop_baseline_days
        ) as message
    from baselines
    -- rounded, so that exactly the threshold's drop raises it whatever the binary fractions
    where round((baseline - rate) * 100, 9) >= $drop_points
),

-- new_error_code: the first day a sender's errors carry a code, once the sender has a day
-- before it (on its first day in the archive every code is new)
sender_errors as (
    select day, sender, code, sum(events)::bigint as events
    from error_breakdown
    where sender is not null and code is not null
    group by all
),

sender_first_days as (
    select sender, min(day) as first_day
    from (
        select sender, day from delivery_daily where sender is not null
        union all
        select sender, day from sender_errors
    )
    group by sender
),

code_first_days as (
    select sender, code, min(day) as day
    from sender_errors
    group by all
),

new_codes as (
    select
        'new_error_code' as kind,
        sender_errors.sender,
        sender_errors.day,
        sender_errors.code,
        sender_errors.events::double as value,
        printf(
            'error %d (%s) first seen for this sender: %,d error%s',
            sender_errors.code, coalesce(error_codes.title, 'not in the catalogue'),
            sender_errors.events, if(sender_errors.events = 1, '', 's')
        ) as message
    from sender_errors
    join code_first_days using (sender, code, day)
    join sender_first_days using (sender)
    left join error_codes using (code)
    where sender_errors.day > sender_first_days.first_day
),

-- stop_error: errors of the `stop` handling class (the account must be fixed before sending)
stop_errors as (
    select
        'stop_error' as kind,
        errors.sender,
        errors.day,
        errors.code,
        sum(errors.events)::double as value,
        printf(
            'error %d (%s): %,d error%s; stop sending until the account is fixed',
            errors.code, any_value(error_codes.title), sum(errors.events)::bigint,
            if(sum(errors.events) = 1, '', 's')
        ) as message
    from error_breakdown as errors
    join error_codes using (code)
    where error_codes.handling = 'stop'
    group by errors.sender, errors.day, errors.code
),

-- long_incident: a rate-limit incident longer than the setting, unless its times are only a
-- folder's or a file's (approximate)
long_incidents as (
    select
        'long_incident' as kind,
        sender,
        started_at::date as day,
        incident_id,
        duration_s / 60 as value,
        $long_incident_minutes as threshold,
        printf(
            'rate-limit incident of %.1f minutes from %s UTC: %,d errors, %,d messages',
            duration_s / 60, strftime(started_at, '%H:%M'), events, messages
        ) as message
    from rate_limit_incidents
    where not approximate
        and duration_s > $long_incident_minutes * 60
),

-- stale_archive: a run that found no file modified within the setting's hours before its
-- as-of (or its start); one a day, raised by the first such run of the day
stale_runs as (
    select
        'stale_archive' as kind,
        started_at::date as day,
        arg_min(run_id, started_at) as run_id,
        arg_min(epoch(started_at - newest_file_at) / 3600, started_at) as value,
        $stale_archive_hours as threshold,
        arg_min(
            coalesce(
                printf(
                    'no file of the archive modified since %s UTC',
                    strftime(newest_file_at, '%Y-%m-%d %H:%M')
                ),
                'the archive holds no file'
            ),
            started_at
        ) as message
    from runs
    where stale_archive
    group by all
),

raised as (
    select * from delivery_drops
    union all by name
    select * from new_codes
    union all by name
    select * from stop_errors
    union all by name
    select * from long_incidents
    union all by name
    select * from stale_runs
),

final as (
    select
        raised.kind,
        raised.sender,
        raised.template,
        raised.day,
        raised.code,
        raised.incident_id,
        raised.value,
        raised.baseline,
        raised.threshold,
        raised.message,
        coalesce(earlier.first_raised_run_id, raised.run_id, $run_id) as first_raised_run_id
    from raised
    left join earlier_alerts as earlier
        on earlier.kind = raised.kind
        and earlier.day = raised.day
        and earlier.sender is not distinct from raised.sender
        and earlier.template is not distinct from raised.template
        and earlier.code is not distinct from raised.code
        and earlier.incident_id is not distinct from raised.incident_id
)

select * from final
order by day, kind, sender nulls first, template nulls first, code, incident_id;
