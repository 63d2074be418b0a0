"""transforms/contract/pricing.py: the rate card and the market map read from their data
files, every row checked against its table's model."""

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from transforms.contract.pricing import MARKETS, RATE_CARD, PricingFiles, markets, rate_card
from transforms.contract.seeds import SeedError

HEADER = "market,pricing_category,effective_from,rate_usd,source\n"


def test_the_shipped_card_prices_every_market_of_the_map() -> None:
    card, mapped = rate_card(RATE_CARD), markets(MARKETS)
    assert card.height == len(RATE_CARD.read_text(encoding="utf-8").splitlines()) - 1
    assert set(mapped["market"]) <= set(card["market"])
    assert "Other" in set(card["market"])
    # every market has its main categories from the first per-message card on, but the cells
    # no source gave (docs/costs.md)
    first = card.filter(card["effective_from"] == date(2025, 7, 1))
    missing = {
        (market, category)
        for market in set(card["market"])
        for category in ("marketing", "utility", "authentication")
        if first.filter(
            (first["market"] == market) & (first["pricing_category"] == category)
        ).is_empty()
    }
    assert missing == {
        ("Colombia", "authentication"),
        ("Egypt", "authentication"),
        ("Saudi Arabia", "utility"),
        ("Saudi Arabia", "authentication"),
    }
    turkey = card.filter(
        (card["market"] == "Turkey") & (card["pricing_category"] == "marketing")
    ).to_dicts()
    assert [row["rate_usd"] for row in turkey] == [Decimal("0.0109")]
    assert all(row["source"] for row in card.to_dicts())


def test_a_negative_rate_names_its_line(tmp_path: Path) -> None:
    card = tmp_path / "card.csv"
    card.write_text(HEADER + "Turkey,marketing,2026-01-01,0.01,a\nTurkey,utility,2026-01-01,-1,b\n")
    with pytest.raises(
        SeedError, match=r"card\.csv, line 3: rate_usd: Value error, a rate is not negative"
    ):
        rate_card(card)


def test_a_rate_listed_twice_for_one_day_is_refused(tmp_path: Path) -> None:
    card = tmp_path / "card.csv"
    card.write_text(
        HEADER + "Turkey,marketing,2026-01-01,0.01,a\nTurkey,marketing,2026-01-01,0.02,b\n"
    )
    with pytest.raises(SeedError, match=r"listed more than once: Turkey/marketing/2026-01-01$"):
        rate_card(card)


def test_a_date_that_is_none_is_refused(tmp_path: Path) -> None:
    card = tmp_path / "card.csv"
    card.write_text(HEADER + "Turkey,marketing,soon,0.01,a\n")
    with pytest.raises(SeedError, match=r"card\.csv"):
        rate_card(card)


def test_the_files_digest_names_their_contents(tmp_path: Path) -> None:
    card = tmp_path / "card.csv"
    card.write_text(HEADER + "Turkey,marketing,2026-01-01,0.01,a\n")
    ours = PricingFiles.of(card, None)
    assert ours.markets == MARKETS and ours.rate_card == card
    before = ours.digest()
    assert before != PricingFiles().digest()
    card.write_text(HEADER + "Turkey,marketing,2026-01-01,0.02,a\n")
    assert ours.digest() != before


def test_a_category_is_kept_in_its_normal_form_and_listed_once(tmp_path: Path) -> None:
    card = tmp_path / "card.csv"
    card.write_text(HEADER + "India,Authentication-International,2026-01-01,0.028,a\n")
    assert rate_card(card)["pricing_category"].to_list() == ["authentication_international"]
    card.write_text(
        HEADER
        + "India,authentication-international,2026-01-01,0.028,a\n"
        + "India,authentication_international,2026-01-01,0.03,b\n"
    )
    with pytest.raises(SeedError, match="India/authentication_international/2026-01-01"):
        rate_card(card)
