-- inputs: markets_seed
-- outputs: markets
--
-- contract §8: Meta's map from a recipient's country to its pricing market, kept as data in
-- data/seeds/markets.csv (or the run's --markets), read and checked row by row as
-- `markets_seed` (transforms/contract/pricing.py).
select * from markets_seed
