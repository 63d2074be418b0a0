-- inputs: error_catalogue
-- outputs: error_codes
--
-- contract §6: the error catalogue, kept as data in data/seeds/error_codes.csv (read and
-- checked row by row as `error_catalogue`, transforms/contract/catalogue.py).
select * from error_catalogue
