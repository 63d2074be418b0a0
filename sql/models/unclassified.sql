-- contract §2 `unclassified`: every valid JSON object of no known event kind.
insert into unclassified by name
select * from state.unclassified
