-- contract §6: the error catalogue, kept as data in data/seeds/error_codes.csv.
insert into error_codes by name
select *
from read_csv(
    $seed_path,
    header = true,
    columns = $columns,
    nullstr = ''
)
