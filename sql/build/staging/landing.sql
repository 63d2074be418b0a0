-- for each table: raw
-- inputs: state.landing_{{table}}
-- outputs: landing_{{table}}
--
-- The landing rows of every file the runs have read, from the state (attached as `state`).
create or replace temp view landing_{{table}} as select * from state.landing_{{table}};
