-- reads: template, to, type, content, recipient_type, messaging_product, key, timestamp
-- payload: .
-- keys: template
-- Landing rows of `template_sends`: one per template-send event (a top-level `template`
-- object), checked against the Template model, the body sent kept whole as JSON (the line's
-- `payload` or `body` when that holds the template, else the line); unique on the event's
-- canonical form.
create or replace temp table chunk_template_sends as
with unwrapped as (
    select
        ordinal,
        line,
        coalesce(payload.template, body.template, template) as template,
        coalesce(payload."to", body."to", "to") as recipient_number,
        coalesce(payload.type, body.type, type) as message_type,
        coalesce(payload.content, body.content, content) as content,
        coalesce(payload.recipient_type, body.recipient_type, recipient_type) as recipient_type,
        coalesce(payload.messaging_product, body.messaging_product, messaging_product)
            as messaging_product,
        case
            when payload.template is not null then raw.json -> '$.payload'
            when body.template is not null then raw.json -> '$.body'
            else raw.json
        end as raw_body,
        coalesce(payload.key, body.key, key) as body_key,
        coalesce(payload.timestamp, body.timestamp, timestamp) as body_timestamp
    from batch_lines($batch_path, $read_columns, $raw_columns, false, $maximum_object_size)
),

flat as (
    select
        ordinal,
        line,
        0 as seq,
        valid_template(template) as is_valid,
        null::varchar as sender,
        digits(recipient_number) as recipient,
        phone_country(digits(recipient_number)) as recipient_country,
        template.name as template,
        template.language.code as language,
        template.language.policy as language_policy,
        template.namespace as namespace,
        message_type,
        coalesce(content, template.content) as content,
        (raw_body -> '$.template.components')::varchar as components,
        -- the body's fields as the models read them, each masked by its kind
        kept_payload(
            raw_body,
            {
                'key': body_key,
                'messaging_product': messaging_product,
                'recipient_type': recipient_type,
                'to': personal_number(recipient_number),
                'type': message_type,
                'template': masked_template(template),
                'timestamp': body_timestamp
            }
        ) as payload_json
    from unwrapped
    where template is not null
),

-- the event's own fields, as the row keeps them (components in their JSON), not where it
-- sits in the batch (its ordinal): hashing the read structs as JSON cost half the pass
hashed as (
    select
        flat.*,
        md5(to_json({
            'recipient': recipient,
            'template': template,
            'language': language,
            'language_policy': language_policy,
            'namespace': namespace,
            'message_type': message_type,
            'content': content,
            'components': components
        })) as event_hash
    from flat
),

final as (
    select
        hashed.* exclude (event_hash, is_valid, line),
        hashed.line.key,
        resolved_event_time(
            hashed.line.line_time,
            hashed.line.received_at,
            origin.path_time,
            origin.file_time
        ) as event,
        hashed.is_valid and hashed.line.is_valid as is_valid,
        dedupe_text([hashed.line.key, hashed.line.line_time::varchar, hashed.event_hash])
            as dedupe_key,
        origin.source_file,
        origin.line_no,
        origin.ingested_at,
        hashed.line.envelope_sender,
        origin.path_sender
    from hashed
    join line_origins as origin using (ordinal)
)

select
    * exclude (event),
    event.time as event_time,
    event.source as event_time_source
from final
