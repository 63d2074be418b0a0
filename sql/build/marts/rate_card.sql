-- inputs: rate_card_seed
-- outputs: rate_card
--
-- contract §8: Meta's list rates, kept as data in data/seeds/rate_card.csv (or the run's
-- --rate-card), read and checked row by row as `rate_card_seed` (transforms/contract/pricing.py).
select * from rate_card_seed
