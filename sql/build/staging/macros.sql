-- inputs: message_keys, message_senders, variable as_of, variable report_missing_hours,
-- inputs: variable rebuild_days
-- outputs: later_copies, message_ref, is_message_status, status_rank, is_report_missing,
-- outputs: is_rebuilt_day, resolved_sender, ref_hash, with_key, with_identity, with_identity_of_few
--
-- contract §3, duplicates: webhooks are delivered at least once and archives overlap. Landing rows
-- with the same dedupe_key are one event; the copy with the earliest event time counts, then
-- the first file and line, so that every run keeps the same copy. The later copies, by where
-- they are (file, line, position in the line): few rows, so that the raw tables can be read
-- from the landing rows without them instead of from a de-duplicated copy of every row (which
-- held the whole night in memory, and spilled to disk).
create or replace temp macro later_copies(landing_table) as table
    with copied as (
        select dedupe_key
        from query_table(landing_table)
        group by dedupe_key
        having count(*) > 1
    ),

    ranked as (
        select
            source_file,
            line_no,
            seq,
            row_number() over (
                partition by dedupe_key
                order by event_time, source_file, line_no, seq
            ) as copy_rank
        from query_table(landing_table)
        semi join copied using (dedupe_key)
    )

    select source_file, line_no, seq from ranked where copy_rank > 1;

-- Message identity (contract §3): the tracking key; a wamid that no key links to is a message
-- of its own.
create or replace temp macro message_ref(key, message_id) as
    coalesce(key, 'wamid:' || message_id);

-- A status is about an outbound message unless its `type` says otherwise (a payment's status
-- is kept in `statuses` but makes no message and counts in no metric; contract §2).
create or replace temp macro is_message_status(status_type) as
    status_type is null or status_type = 'message';

-- Statuses of the same time in the order a message goes through them (contract §8: the
-- pricing of the first), every other status after them.
create or replace temp macro status_rank(status) as
    case status when 'sent' then 0 when 'delivered' then 1 when 'read' then 2 else 3 end;

-- contract §4 report_missing: sent, neither delivered nor failed, and longer than the window
-- between sent_at and the run's as_of.
create or replace temp macro is_report_missing(sent_at, delivered_at, failed_at) as
    coalesce(
        sent_at is not null
        and delivered_at is null
        and failed_at is null
        and getvariable('as_of') - sent_at > to_hours(getvariable('report_missing_hours')),
        false
    );

-- The days a metric model counts: every day on a full build; on an update, the days whose
-- messages or errors changed (variable rebuild_days, a list).
create or replace temp macro is_rebuilt_day(day) as
    getvariable('rebuild_days') is null or list_contains(getvariable('rebuild_days'), day);

-- contract §3 sender: the event's metadata, else that of any other event of the same message,
-- else the envelope's sender, else the path's sender=.
create or replace temp macro resolved_sender(own, of_message, envelope, path) as
    coalesce(own, of_message, envelope, path);

-- A message's 128-bit hash, to look its sender up by: a join on the hash keeps a fixed 16
-- bytes a message in memory instead of its text. Two messages of a night share a hash with a
-- chance of about n^2 / 2^129 (below 10^-20 for a hundred million messages); the keys and
-- wamids are the vendor's, not chosen to collide.
create or replace temp macro ref_hash(message_ref) as md5_number(message_ref);

-- contract §3: the events of `events_table` with their tracking key, their own, else the one their
-- wamid links to. Only the events without a key look one up, among the links of their own
-- wamids, so that the join holds those few links: joined on every link of the night, it
-- outgrew memory on a 16 GB night and spilled every event's row to disk.
create or replace temp macro with_key(events_table) as table
    with links as (
        select message_keys.message_id, message_keys.key
        from message_keys
        semi join (select message_id from query_table(events_table) where key is null) as keyless
            on keyless.message_id = message_keys.message_id
    )

    select
        events.* exclude (key),
        coalesce(events.key, links.key) as key
    from query_table(events_table) as events
    left join links on links.message_id = events.message_id;

-- contract §3 for a raw table's events: the tracking key (`with_key`) and the sender
-- (resolved_sender); the envelope's and the path's sender go. The senders are joined by
-- `ref_hash`, a fixed 16 bytes a message: by their texts they too outgrew memory on a 16 GB
-- night (`statuses` 117 s, with both joins narrow 59 s).
create or replace temp macro with_identity(events_table) as table
    select
        keyed.* exclude (sender, envelope_sender, path_sender),
        resolved_sender(
            keyed.sender, message_senders.sender, keyed.envelope_sender, keyed.path_sender
        ) as sender
    from with_key(events_table) as keyed
    left join message_senders
        on message_senders.ref_hash = ref_hash(message_ref(keyed.key, keyed.message_id));

-- with_identity for a table of events far fewer than the messages (the errors): the links and
-- senders of its events' messages are picked first, so that no join builds on the events' wide
-- rows. Given the events as the smaller side, DuckDB built both joins of with_identity on
-- them, two hash tables it could not both hold: the 16 GB night's 681,113 errors ran out of
-- memory under 800 MB, which this runs under 300 MB.
create or replace temp macro with_identity_of_few(events_table) as table
    with keyed as (
        from with_key(events_table)
    ),

    senders_of_events as (
        select message_senders.message_ref, message_senders.sender
        from message_senders
        semi join keyed on message_senders.message_ref = message_ref(keyed.key, keyed.message_id)
    )

    select
        keyed.* exclude (sender, envelope_sender, path_sender),
        resolved_sender(
            keyed.sender, senders_of_events.sender, keyed.envelope_sender, keyed.path_sender
        ) as sender
    from keyed
    left join senders_of_events
        on senders_of_events.message_ref = message_ref(keyed.key, keyed.message_id);
