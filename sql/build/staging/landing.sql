-- inputs: state.landing_accepted, state.landing_template_sends, state.landing_statuses,
-- inputs: state.landing_replies, state.landing_errors
-- outputs: landing_accepted, landing_template_sends, landing_statuses, landing_replies,
-- outputs: landing_errors
--
-- The landing rows of every file the runs have read, from the state (attached as `state`).
create or replace temp view landing_accepted as select * from state.landing_accepted;
create or replace temp view landing_template_sends as select * from state.landing_template_sends;
create or replace temp view landing_statuses as select * from state.landing_statuses;
create or replace temp view landing_replies as select * from state.landing_replies;
create or replace temp view landing_errors as select * from state.landing_errors;
