"""What a message costs is priced with two data files (contract §8, costs): Meta's list rates
per market, category and date (`data/seeds/rate_card.csv`) and its map from the recipient's
country to a market (`data/seeds/markets.csv`). Either can be replaced for a run
(`--rate-card`, `--markets`); both are read and checked row by row before anything starts,
and a warehouse priced with other files is built anew."""

import hashlib
from pathlib import Path

import polars as pl
from pydantic import BaseModel

from transforms.contract.seeds import SEED_DIR, seed_rows
from transforms.contract.tables import Markets, RateCard

RATE_CARD = SEED_DIR / "rate_card.csv"
MARKETS = SEED_DIR / "markets.csv"


class PricingFiles(BaseModel):
    """The rate card and the market map a night prices with."""

    rate_card: Path = RATE_CARD
    markets: Path = MARKETS

    @classmethod
    def of(cls, rate_card: Path | None, markets: Path | None) -> "PricingFiles":
        """The given files (relative to the working folder), else the shipped ones."""
        return cls(
            rate_card=(rate_card or RATE_CARD).absolute(), markets=(markets or MARKETS).absolute()
        )

    def digest(self) -> str:
        """Names the files' contents: costs priced with other ones must be priced again."""
        digest = hashlib.sha256()
        for path in (self.rate_card, self.markets):
            digest.update(path.read_bytes() + b"\0")
        return digest.hexdigest()


def rate_card(path: Path) -> pl.DataFrame:
    """The rates, one per market, category and first day in force (read each time: a
    long-lived worker sees the file as it is now). A category is written as the webhooks
    write most: lower case, `_` for `-` (`authentication-international` is
    `authentication_international`), and matched in that form."""
    category = pl.col("pricing_category").str.to_lowercase().str.replace_all("-", "_")
    return seed_rows(
        path,
        RateCard,
        ("market", "pricing_category", "effective_from"),
        {"pricing_category": category},
    )


def markets(path: Path) -> pl.DataFrame:
    """The market of each listed country."""
    return seed_rows(path, Markets, ("country",))
