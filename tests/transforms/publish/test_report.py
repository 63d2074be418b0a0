"""The report (docs/report.md), opened in a real browser: Debian's headless Chromium, the
network off. Every chart renders, the console shows no error, and the figures shown are the
warehouse's, counted here from `messages` on their own. Screenshots of a wide and a narrow
screen are kept under `.test-output/report/` for a person to look at."""

import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Request, sync_playwright

from devtools.sample import SampleSpec, write_sample
from flows.publishing import runs_table
from flows.runs import RunRecord
from flows.settings import Tuning
from tests.conftest import warehouse_of
from transforms.publish.alerts import raise_alerts
from transforms.publish.report import TABLE_ROWS, report_frames, write_report
from transforms.publish.swap import record_publish

CHROMIUM = Path("/usr/bin/chromium")
OUTPUT = Path(__file__).resolve().parents[3] / ".test-output" / "report"
# as the machine's own check starts it: no background connections to a closed network
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENS = {"wide": {"width": 1280, "height": 900}, "narrow": {"width": 390, "height": 844}}


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("report")
    write_sample(root / "sample", SampleSpec(messages=600, days=4, seed=11))
    warehouse = warehouse_of(root / "sample", root / "work")
    warehouse.close()
    started = datetime(2026, 11, 24, 2, tzinfo=UTC)
    logged = [RunRecord(run_id="night", started_at=started, outcome="published")]
    record_publish(warehouse.path, runs_table(logged), str(root / "export"))
    raise_alerts(warehouse.path, None, Tuning().alerts("night"))
    page = write_report(warehouse.path, root / "report" / "index.html", 14, started)
    return warehouse.path, page


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM.exists(), "Debian's chromium is not installed: `make browser` installs it"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _newest_complete_day(warehouse: Path) -> dict[str, Any]:
    """The headline's figures, counted from `messages` (not from the report's queries)."""
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        connection.execute("set TimeZone = 'UTC'")
        row = connection.execute(
            """
            with complete as (
                select max(message_day) as day from messages
                where message_day <= (select as_of from wa_etl_build.info)::date - 2
            )
            select
                message_day,
                count(*),
                count(sent_at),
                count(delivered_at),
                count(read_at),
                count(failed_at),
                count(*) filter (replied),
                count(*) filter (report_missing)
            from messages
            where message_day = (select day from complete)
            group by message_day
            """
        ).fetchone()
    assert row is not None
    names = ["day", "attempted", "sent", "delivered", "read", "failed", "replied", "missing"]
    return dict(zip(names, row, strict=True))


def _share(numerator: int, denominator: int) -> str:
    return f"{numerator / denominator:.1%} ({numerator:,} of {denominator:,})"


@pytest.mark.parametrize("screen", list(SCREENS))
def test_the_report_renders_offline_with_the_warehouse_figures(
    report: tuple[Path, Path], browser: Browser, screen: str
) -> None:
    warehouse, page_file = report
    context = browser.new_context(viewport=SCREENS[screen], offline=True)
    page = context.new_page()
    problems: list[str] = []
    requested: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            problems.append(f"{message.type}: {message.text}")

    def on_request(request: Request) -> None:
        if not request.url.startswith(("file:", "data:", "about:")):
            requested.append(request.url)

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("request", on_request)
    page.goto(page_file.as_uri())
    charts = page.eval_on_selector_all("[data-chart]", "nodes => nodes.map(n => n.dataset.chart)")
    page.wait_for_function(
        "count => document.querySelectorAll('[data-chart] .main-svg').length >= count",
        arg=len(charts),
    )
    frames = report_frames(warehouse, 14)
    assert frames is not None
    # every chart the frames call for is on the page, and drew its data
    expected = {"funnel", "trends", "error-categories", "error-codes", "incidents"}
    expected |= {"missing"} if not frames.missing.is_empty() else set()
    assert set(charts) == expected
    for name in charts:
        drawn = page.eval_on_selector(
            f"[data-chart='{name}']",
            "node => node.querySelectorAll('.trace, .point, .bars path, .scatterlayer path').length",
        )
        assert drawn > 0, f"the {name} chart drew nothing"
    assert problems == []
    assert requested == [], "the report asked the network for something"

    figures = dict(
        page.eval_on_selector_all(
            "[data-figure]", "nodes => nodes.map(n => [n.dataset.figure, n.textContent.trim()])"
        )
    )
    day = _newest_complete_day(warehouse)
    assert figures["day"] == str(day["day"])
    assert figures["attempted"] == f"{day['attempted']:,}"
    assert figures["delivery"] == _share(day["delivered"], day["sent"])
    assert figures["read"] == _share(day["read"], day["delivered"])
    assert figures["failure"] == _share(day["failed"], day["attempted"])
    assert figures["reply"] == _share(day["replied"], day["delivered"])
    assert figures["missing"] == _share(day["missing"], day["sent"])
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        connection.execute("set TimeZone = 'UTC'")
        first_day: date = connection.execute(
            "select min(message_day) from messages where message_day >= $since",
            {"since": frames.since},
        ).fetchall()[0][0]
        alerts, incidents, pairs, stops, suppressed = connection.execute(
            "select (select count(*) from alerts where day >= $since), "
            "(select count(*) from rate_limit_incidents where started_at::date >= $since), "
            "(select count(distinct (sender, template)) from messages "
            "where message_day >= $since), "
            "(select count(*) from stop_events where day >= $since), "
            "(select count(distinct (sender, code)) from suppression_candidates)",
            {"since": frames.since},
        ).fetchall()[0]
    assert figures["since"] == str(first_day)
    assert figures["alert-count"] == f"{alerts:,}"
    assert figures["incident-count"] == f"{incidents:,}"
    assert page.locator("tr[data-row='funnel']").count() == min(pairs, TABLE_ROWS)
    # what to act on: the stop errors' sender-days and the customers to stop writing to
    assert stops > 0 and suppressed > 0
    assert page.locator("tr[data-row='stop']").count() == min(stops, TABLE_ROWS)
    assert page.locator("tr[data-row='suppression']").count() == min(suppressed, TABLE_ROWS)
    # what it cost: one row per sender, template, market and category, the total of the days
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        groups, cost, unread = connection.execute(
            "select count(distinct (sender, template, market, pricing_category)), sum(cost),"
            " sum(cost_unread) from cost_daily where day >= $since",
            {"since": frames.since},
        ).fetchall()[0]
    assert cost > 0
    assert page.locator("tr[data-row='cost']").count() == min(groups, TABLE_ROWS)
    assert figures["cost"] == f"${cost:,.4f}"
    assert figures["cost-unread"] == f"${unread:,.4f}"

    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / f"report-{screen}.png"), full_page=True)
    shutil.copyfile(page_file, OUTPUT / "index.html")
    context.close()


def test_a_warehouse_without_messages_gets_a_page_that_says_so(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    write_sample(empty, SampleSpec(messages=1, days=1, seed=1))
    for file in empty.rglob("*.*"):
        if file.is_file():
            file.write_text("")
    warehouse = warehouse_of(empty, tmp_path / "work")
    warehouse.close()
    page = write_report(warehouse.path, tmp_path / "index.html", 14, datetime.now(UTC))
    text = page.read_text(encoding="utf-8")
    assert "The warehouse holds no messages yet." in text
    assert "Plotly" not in text
