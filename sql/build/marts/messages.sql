-- inputs: message_lifecycle, attributed_replies, markets, rate_card, variable as_of,
-- inputs: variable report_missing_hours
-- outputs: messages
--
-- contract §5 `messages`: one row per outbound message with its lifecycle and outcomes (contract §4).
-- All of a message's outcomes count on its message day, however late they arrive.
-- Its cost (contract §8): the recipient's country places it in a market (a country the map
-- does not list is in `Other`); a billable delivered message is charged the rate of its
-- market and category in force on its delivered day; under conversation pricing (CBP) only
-- the conversation's first delivered billable message is charged. A charge without a known
-- rate is NULL: unknown, not free.

-- read twice, never materialised: an insert from a materialised CTE leaves its rows for the
-- checkpoint to compress, instead of writing them as it goes
with lifecycle as not materialized (
    select * from message_lifecycle
),

reply_outcomes as (
    select
        message_ref,
        min(reply_at) as first_reply_at
    from attributed_replies
    group by message_ref
),

-- the message of each conversation that was delivered first, ties by message (an update
-- rebuilds every message of a conversation it touches: sql/build/update/06_grow.sql)
conversation_openers as (
    select min({'delivered_at': delivered_at, 'message_ref': message_ref}).message_ref
        as message_ref
    from lifecycle
    where pricing_model = 'CBP'
        and billable
        and delivered_at is not null
        and conversation_id is not null
    group by conversation_id
),

-- a rate holds until the next one of its market and category
rates as (
    select
        *,
        lead(effective_from, 1, date '9999-12-31') over (
            partition by market, pricing_category order by effective_from
        ) as effective_until
    from rate_card
),

placed as (
    select
        lifecycle.*,
        -- the card's categories are lower case with `_` for `-` (transforms/contract/pricing.py):
        -- Meta writes authentication-international in webhooks
        replace(lower(lifecycle.pricing_category), '-', '_') as category_key,
        case
            when lifecycle.recipient_country is not null
                then coalesce(markets.market, 'Other')
        end as market,
        lifecycle.billable
            and lifecycle.delivered_at is not null
            and (
                lifecycle.pricing_model is distinct from 'CBP'
                or lifecycle.conversation_id is null
                or openers.message_ref is not null
            ) as is_charged
    from lifecycle
    left join markets on markets.country = lifecycle.recipient_country
    left join conversation_openers as openers using (message_ref)
),

priced as (
    select
        placed.*,
        case when placed.is_charged then rates.rate_usd else 0 end as cost
    from placed
    left join rates
        on rates.market = placed.market
        and rates.pricing_category = placed.category_key
        and placed.delivered_at::date >= rates.effective_from
        and placed.delivered_at::date < rates.effective_until
),

final as (
    select
        priced.* exclude (message_ref, metadata_sender, is_charged, category_key),
        priced.first_event_at::date as message_day,
        case
            when priced.read_at is not null then 'read'
            when priced.delivered_at is not null then 'delivered'
            when priced.failed_at is not null then 'failed'
            when priced.sent_at is not null then 'sent'
            when priced.accepted_at is not null then 'accepted'
            else 'attempted'
        end as final_status,
        reply_outcomes.message_ref is not null as replied,
        reply_outcomes.first_reply_at,
        is_report_missing(priced.sent_at, priced.delivered_at, priced.failed_at)
            as report_missing
    from priced
    left join reply_outcomes using (message_ref)
)

select * from final
