-- inputs: state.unclassified
-- outputs: unclassified
--
-- contract §2 `unclassified`: every valid JSON object of no known event kind.
select * from state.unclassified
