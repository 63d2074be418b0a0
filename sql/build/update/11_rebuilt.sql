-- for each table: by_message
-- inputs: removed_{{table}}, inserted_{{table}}, changed_days
-- outputs: differing, differing_{{table}}, changed_days
--
-- After the rebuilt rows are in: the days on which a table's rows differ from the rows taken
-- out (`08_remove`). A rebuilt row equal to the one it replaces (an event read again, an error
-- of no message) changes no day. The rows that differ are those whose copies taken out and
-- put back do not balance: one aggregate over both, in a third of the time of two
-- `except all`.
create or replace temp macro differing(removed, inserted) as table
    with sides as (
        select * exclude (row_id), 1 as side from query_table(removed)
        union all by name
        select *, -1 as side from query_table(inserted)
    ),

    balanced as (
        select * exclude (side), sum(side) as balance from sides group by all
    )

    select * from balanced where balance != 0;

-- `balance` is how many more times a row was taken out than put back: a day with a positive
-- one lost or changed a row and is rewritten; a day with only negative ones gained rows.
create or replace temp table differing_{{table}} as
from differing('removed_{{table}}', 'inserted_{{table}}');

insert into changed_days
select '{{table}}', {{day_column}}::date, bool_or(balance > 0)
from differing_{{table}}
group by all;
