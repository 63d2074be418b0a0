-- inputs: messages, errors, error_codes
-- outputs: suppression_candidates
--
-- `suppression_candidates` (contract §8, actions): one row per sender and customer whose
-- latest error is of handling class `suppress` (contract §6: the customer cannot or will not
-- receive, as 131026 undeliverable or 131050 stopped marketing messages say): the sender
-- should stop writing to them. The customer is the recipient of the message the error is
-- about: its number, else its business-scoped user id. An error of no message, or of a
-- message without a recipient, names no customer. A later error of another class (a
-- delivered message does not count: only errors do) takes the customer off the list.
with customer_errors as (
    select
        coalesce(messages.sender, errors.sender) as sender,
        coalesce(messages.recipient, messages.recipient_user_id) as customer,
        messages.recipient,
        messages.recipient_user_id,
        errors.code,
        errors.event_time,
        errors.source_file,
        errors.line_no,
        coalesce(error_codes.handling, 'review') as handling
    from errors
    join messages
        on message_ref(messages.key, messages.message_id)
        = message_ref(errors.key, errors.message_id)
    left join error_codes using (code)
    where coalesce(messages.sender, errors.sender) is not null
        and coalesce(messages.recipient, messages.recipient_user_id) is not null
        and is_message_status(errors.status_type)
),

latest as (
    select
        sender,
        customer,
        arg_max(
            {
                'code': code,
                'handling': handling,
                'recipient': recipient,
                'recipient_user_id': recipient_user_id
            },
            (event_time, source_file, line_no)
        ) as error,
        max(event_time) as last_seen_at
    from customer_errors
    group by sender, customer
),

code_counts as (
    select sender, customer, code, count(*) as errors
    from customer_errors
    where handling = 'suppress'
    group by all
),

final as (
    select
        latest.sender,
        latest.error.recipient as recipient,
        latest.error.recipient_user_id as recipient_user_id,
        latest.error.code as code,
        code_counts.errors,
        latest.last_seen_at
    from latest
    join code_counts
        on code_counts.sender = latest.sender
        and code_counts.customer = latest.customer
        and code_counts.code = latest.error.code
    where latest.error.handling = 'suppress'
)

select * from final
