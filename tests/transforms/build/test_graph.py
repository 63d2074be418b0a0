"""transforms/build/graph.py: the headers of the build's SQL against the scripts' text, the
order derived from them, and the table registry against the marts."""

import re
from functools import cache

import pytest

from transforms.build.graph import (
    Model,
    build_models,
    full_build_order,
    model,
    run_order,
    sql_names,
    update_steps,
)
from transforms.build.update import METRIC_MODELS, ROW_MODELS
from transforms.contract.tables import TABLES
from transforms.sql import sql_text

MACROS = "build/staging/macros"
# what exists before any model runs: the attached state, the settings the build sets, and the
# view of one part of the outbound events that `message_lifecycle` aggregates, the seeds
GIVEN = {
    "state.manifest",
    "state.quarantine",
    "state.unclassified",
    *(f"state.landing_{table}" for table in ("accepted", "template_sends", "statuses")),
    *(f"state.landing_{table}" for table in ("replies", "errors")),
    "variable reply_window_hours",
    "variable report_missing_hours",
    "variable incident_gap_seconds",
    "variable rebuild_days",
    "lifecycle_bucket",
    "error_catalogue",
    "rate_card_seed",
    "markets_seed",
}
# what an update finds besides: the previous warehouse, and the views and tables Python makes
# (the state's landing parts, and a rebuilt table's rows kept as `inserted_<table>`)
PREVIOUS = {
    *TABLES,
    "wa_etl_build.info",
    "wa_etl_build.link_hashes",
    "variable link_rows_prefix",
    "variable added_table",
    "variable day_column",
    *(f"landing_rows_{table}" for table in ("accepted", "template_sends", "statuses")),
    *(f"landing_rows_{table}" for table in ("replies", "errors")),
    *(f"new_rows_{table}" for table in ("accepted", "template_sends", "statuses")),
    *(f"new_rows_{table}" for table in ("replies", "errors")),
    *(f"inserted_{name}" for name, table in TABLES.items() if table.on_update == "by_message"),
}
EVERY_SQL = [*build_models(), *(step.name for step in update_steps())]


def code(name: str) -> str:
    """The text of a script without its comments."""
    return re.sub(r"--[^\n]*", "", sql_text(name))


@cache
def macro_bodies() -> dict[str, str]:
    """Each macro of the library, by name: its definition's text."""
    parts = re.split(r"(?=create or replace temp macro )", code(MACROS))
    return {
        match[1]: part
        for part in parts
        if (match := re.match(r"create or replace temp macro (\w+)", part))
    }


def text_of(name: str) -> str:
    """What a model runs: its script, the plumbing run within it, and the bodies of the
    library's macros it calls, and of those they call."""
    texts = [code(name)]
    texts += [code(part) for part, node in build_models().items() if node.within == name]
    called: set[str] = set()
    while True:
        calls = {
            macro
            for macro in macro_bodies()
            if any(re.search(rf"\b{macro}\(", text) for text in texts)
        } - called
        if not calls:
            return "\n".join(texts)
        called |= calls
        texts += [macro_bodies()[macro] for macro in calls]


def mentions(text: str, item: str) -> bool:
    if item.startswith("variable "):
        variable = item.removeprefix("variable ")
        read = rf"getvariable\(\s*'?{variable}\b'?"
        return re.search(read, text) is not None or f"set variable {variable} " in text
    return re.search(rf"(?<![\w.]){re.escape(item)}(?!\w|\.[\w*])", text) is not None


def without_values(text: str) -> str:
    """The text with its string literals taken out, but for a name passed first to a call
    (`query_table('accepted')`, `with_identity('deduplicated_statuses')`): a table macro's
    argument. `'accepted'` elsewhere is a value."""
    text = re.sub(r"(?<!in )\(\s*'([\w.]+)'", r"( \1 ", text)
    return re.sub(r"'[^']*'", "''", text)


def is_query(name: str) -> bool:
    """A model that is one query: the build puts its rows into the relation named after its
    file (a mart's table; `message_lifecycle`, built in parts)."""
    return re.match(r"\s*(with|select|from)\b", code(name)) is not None


def relations() -> set[str]:
    """Every relation a build script makes, and the warehouse's tables and the state's."""
    made = {item for name in EVERY_SQL for item in model(name).outputs | model(name).makes}
    return (made | set(TABLES) | GIVEN) - model(MACROS).outputs


def local_names(text: str) -> set[str]:
    """The names a script gives its CTEs and aliases."""
    return set(re.findall(r"(?:with|,)\s+(\w+) as \(", text)) | set(
        re.findall(r"\bas (\w+)\b", text)
    )


@pytest.mark.parametrize("name", EVERY_SQL)
def test_every_item_a_header_declares_is_in_the_script(name: str) -> None:
    node = model(name)
    text = text_of(name)
    assert node.inputs or node.outputs, f"sql/{name}.sql declares nothing"
    made_by_the_build = {name.rsplit("/", 1)[-1]} if is_query(name) else set()
    for item in node.inputs | (node.outputs - made_by_the_build):
        assert mentions(text, item), f"sql/{name}.sql declares {item!r} but does not name it"


@pytest.mark.parametrize("name", EVERY_SQL)
def test_every_relation_a_script_names_is_declared(name: str) -> None:
    node = model(name)
    text = without_values(text_of(name))
    named = {item for item in relations() if mentions(text, item)}
    undeclared = named - node.inputs - node.outputs - local_names(text)
    assert not undeclared, f"sql/{name}.sql names {sorted(undeclared)} without declaring them"


def test_every_model_of_the_full_build_reads_only_what_is_made_before_it() -> None:
    made = set(GIVEN) | set(TABLES)  # the tables are created empty first
    for name in full_build_order():
        node = build_models()[name]
        unmade = node.reads - made
        assert not unmade, f"{name} reads {sorted(unmade)} before anything makes it"
        made |= node.makes
    # the macros' reads are made by the models that call them
    assert model(MACROS).inputs - made == set()


def test_every_update_step_reads_only_what_exists_before_it() -> None:
    made = GIVEN | PREVIOUS
    row_models = {name: build_models()[name] for name in ROW_MODELS}
    for step in update_steps():
        unmade = step.reads - made
        assert not unmade, f"{step.name} reads {sorted(unmade)} before anything makes it"
        made |= step.makes
        if step.name.endswith("09_take_out"):
            for node in row_models.values():
                made |= node.makes


def test_a_script_for_each_table_runs_for_the_tables_its_header_names() -> None:
    landing = model("build/update/07_landing")
    rebuilt = model("build/update/11_rebuilt")
    assert landing.tables() == ["accepted", "template_sends", "statuses", "replies", "errors"]
    assert rebuilt.tables() == [*landing.tables(), "messages"]
    assert model("build/update/08_remove").tables() == []
    assert "differing_messages" in rebuilt.makes
    assert "landing_errors" in model("build/staging/landing").makes


def test_no_two_models_make_the_same_relation() -> None:
    makers: dict[str, str] = {}
    for name, node in build_models().items():
        for item in node.makes:
            assert item not in makers, f"{name} and {makers[item]} both make {item}"
            makers[item] = name


def test_the_order_follows_the_declarations_not_the_names() -> None:
    models = {
        "b/first": Model("b/first", frozenset(), frozenset({"one"}), None),
        "a/second": Model("a/second", frozenset({"one"}), frozenset({"two", "variable x"}), None),
        "a/third": Model("a/third", frozenset({"variable x", "given"}), frozenset(), None),
    }
    assert run_order(models) == ["b/first", "a/second", "a/third"]


def test_messages_are_judged_after_the_as_of_time_is_set() -> None:
    order = full_build_order()
    assert order.index("build/staging/as_of") < order.index("build/marts/messages")
    assert order.index("build/marts/messages") < order.index("build/marts/delivery_daily")


def test_every_table_the_build_writes_has_its_mart_and_every_mart_is_a_table() -> None:
    marts = {name.removeprefix("build/marts/") for name in sql_names("build/marts")}
    built = {name for name, table in TABLES.items() if table.on_update != "published"}
    assert marts == built
    assert set(ROW_MODELS).isdisjoint(METRIC_MODELS)
    assert "build/marts/error_codes" not in (*ROW_MODELS, *METRIC_MODELS)
