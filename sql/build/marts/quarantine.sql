-- inputs: state.quarantine
-- outputs: quarantine
--
-- contract §5 `quarantine`: every line that could not be read as an event, with its reason.
select * from state.quarantine
