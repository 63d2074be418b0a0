-- The report's days, one row per message day from $since: every outcome's count over all
-- senders and templates and the rates between them, each with its denominator, and whether
-- the day is complete (a day still fills until a day has passed since its end at the
-- warehouse's as-of time: its late delivery reports come in).
with days as (
    select
        day,
        sum(attempted)::bigint as attempted,
        sum(accepted)::bigint as accepted,
        sum(sent)::bigint as sent,
        sum(delivered)::bigint as delivered,
        sum(read)::bigint as read,
        sum(failed)::bigint as failed,
        sum(replied)::bigint as replied,
        sum(report_missing)::bigint as report_missing
    from delivery_daily
    where day >= $since
    group by day
),

final as (
    select
        *,
        delivered / nullif(sent, 0) as delivery_rate,
        read / nullif(delivered, 0) as read_rate,
        failed / nullif(attempted, 0) as failure_rate,
        replied / nullif(delivered, 0) as reply_rate,
        day <= (select as_of from wa_etl_build.info)::date - 2 as complete
    from days
)

select * from final
order by day
