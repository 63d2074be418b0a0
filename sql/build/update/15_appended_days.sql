-- inputs: changed_days
-- outputs: appended_days
--
-- After the last change of an update's days (`build/update/14_reattributed`): the days each table
-- only gained rows on, which nothing rewrites (no row taken out and not put back as it was,
-- none changed in place). `build/update/16_added` keeps their rows; the export appends them.
create or replace temp table appended_days as
select table_name, day from changed_days
where day is not null
group by all
having not bool_or(rewrite);
