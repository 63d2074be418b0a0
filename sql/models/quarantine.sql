-- contract §5 `quarantine`: every line that could not be read as an event, with its reason.
insert into quarantine by name
select * from state.quarantine
