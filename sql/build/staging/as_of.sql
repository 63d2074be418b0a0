-- inputs: template_sends, accepted, statuses, replies, errors
-- outputs: event_times, variable newest_event_at, variable as_of
--
-- report_missing (contract §4) is judged at the run's as_of: the time given, else the newest
-- event time in the warehouse that is not after the run's start. A live archive's newest
-- event is the night's; and a rerun over the same archive judges the same. The newest event
-- of all is kept too (`wa_etl_build.info`): a night with nothing new to read whose as_of would
-- not move (no event was after the last run's start) has nothing to build.
create or replace temp view event_times as
select event_time from template_sends
union all select event_time from accepted
union all select event_time from statuses
union all select event_time from replies
union all select event_time from errors;

set variable newest_event_at = (select max(event_time) from event_times);

set variable as_of = coalesce(
    $as_of,
    (select max(event_time) from event_times where event_time <= $run_started)
);
