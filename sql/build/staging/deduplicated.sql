-- inputs: landing_accepted, landing_template_sends, landing_statuses, landing_replies,
-- inputs: landing_errors
-- outputs: send_times, later_copies_accepted, deduplicated_accepted, later_copies_template_sends,
-- outputs: deduplicated_template_sends, later_copies_statuses, deduplicated_statuses,
-- outputs: later_copies_replies, deduplicated_replies, later_copies_errors, deduplicated_errors
--
-- One row per event occurrence of each raw table: the landing rows without the later copies
-- of an event (`later_copies`).
--
-- Event time from the message (contract §3): an API error or an accepted event carries no
-- time of its own; without an envelope it would take its folder's hour or its file's time.
-- It takes the time of the first template send of its tracking key instead, when that send
-- has a time of its own (`send_times`: only the keys such events name, by their 128-bit hash,
-- so that an archive whose every event has an envelope joins nothing).
create or replace temp table send_times as
with untimed_keys as (
    select key from landing_accepted
    where key is not null and event_time_source in ('path', 'file')
    union
    select key from landing_errors
    where key is not null and source = 'api_error' and event_time_source in ('path', 'file')
)

select ref_hash(key) as key_hash, min(event_time) as event_time
from landing_template_sends
semi join untimed_keys using (key)
where event_time_source in ('payload', 'envelope')
group by key_hash;

create or replace temp table later_copies_accepted as
    from later_copies('landing_accepted');
create or replace temp view deduplicated_accepted as
    select
        accepted.* exclude (dedupe_key, seq) replace (
            coalesce(send_times.event_time, accepted.event_time) as event_time,
            if(send_times.key_hash is null, accepted.event_time_source, 'message')
                as event_time_source
        )
    from landing_accepted as accepted
    anti join later_copies_accepted using (source_file, line_no, seq)
    left join send_times
        on accepted.event_time_source in ('path', 'file')
        and send_times.key_hash = ref_hash(accepted.key);
create or replace temp table later_copies_template_sends as
    from later_copies('landing_template_sends');
create or replace temp view deduplicated_template_sends as
    select * exclude (dedupe_key, seq) from landing_template_sends
    anti join later_copies_template_sends using (source_file, line_no, seq);
create or replace temp table later_copies_statuses as
    from later_copies('landing_statuses');
create or replace temp view deduplicated_statuses as
    select * exclude (dedupe_key, seq) from landing_statuses
    anti join later_copies_statuses using (source_file, line_no, seq);
create or replace temp table later_copies_replies as
    from later_copies('landing_replies');
create or replace temp view deduplicated_replies as
    select * exclude (dedupe_key, seq) from landing_replies
    anti join later_copies_replies using (source_file, line_no, seq);
create or replace temp table later_copies_errors as
    from later_copies('landing_errors');
create or replace temp view deduplicated_errors as
    select
        errors.* exclude (dedupe_key, seq) replace (
            coalesce(send_times.event_time, errors.event_time) as event_time,
            if(send_times.key_hash is null, errors.event_time_source, 'message')
                as event_time_source
        )
    from landing_errors as errors
    anti join later_copies_errors using (source_file, line_no, seq)
    left join send_times
        on errors.source = 'api_error'
        and errors.event_time_source in ('path', 'file')
        and send_times.key_hash = ref_hash(errors.key);
