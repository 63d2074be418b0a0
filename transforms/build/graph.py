"""The build's models as a graph: every SQL file under `sql/build` says in its header what it
reads (`-- inputs:`) and what it creates or writes (`-- outputs:`), one relation or
`variable <name>` each, comma-separated, over as many such lines as it needs. The full build's
order is derived from these declarations, never written by hand; a test reads each script
against its header (tests/transforms/build/test_graph.py).

Plumbing a model runs from Python as part of another (`-- within: <model>`) and the macros
library are not nodes of the order. A script written once for several tables
(`-- for each table: raw`, or an `on_update` kind of the table registry) runs once for each,
its `{{table}}` and `{{day_column}}` naming the table and the column it is partitioned on.
"""

from dataclasses import dataclass
from functools import cache
from graphlib import TopologicalSorter

from transforms.contract.raw_tables import RAW_TABLES
from transforms.contract.tables import TABLES
from transforms.sql import SQL_DIR, sql_text

INPUTS = "-- inputs:"
OUTPUTS = "-- outputs:"
WITHIN = "-- within:"
FOR_EACH = "-- for each table:"
MODEL_FOLDERS = ("build/staging", "build/marts")
UPDATE_FOLDER = "build/update"


@dataclass(frozen=True)
class Model:
    """A SQL file of the build: its name (`build/marts/messages`) and what it declares."""

    name: str
    inputs: frozenset[str]
    outputs: frozenset[str]
    within: str | None
    for_each: str | None = None

    @property
    def reads(self) -> frozenset[str]:
        """What it reads, for each table it runs for."""
        return self._for_each_table(self.inputs)

    @property
    def makes(self) -> frozenset[str]:
        """What it makes or writes, for each table it runs for."""
        return self._for_each_table(self.outputs)

    def _for_each_table(self, items: frozenset[str]) -> frozenset[str]:
        if self.for_each is None:
            return items
        return frozenset(
            rendered_item(item, table_names(table)) for item in items for table in self.tables()
        )

    def tables(self) -> list[str]:
        """The tables the script runs for, one after the other; none if it runs once."""
        if self.for_each is None:
            return []
        if self.for_each == "raw":
            return list(RAW_TABLES)
        return [name for name, table in TABLES.items() if table.on_update == self.for_each]


def declared(name: str, header: str) -> frozenset[str]:
    """The items of every `header` line of `sql/<name>.sql`."""
    return frozenset(
        item.strip()
        for line in sql_text(name).splitlines()
        if line.startswith(header)
        for item in line.removeprefix(header).split(",")
        if item.strip()
    )


def model(name: str) -> Model:
    """The declarations of `sql/<name>.sql`."""
    within = declared(name, WITHIN)
    for_each = declared(name, FOR_EACH)
    return Model(
        name=name,
        inputs=declared(name, INPUTS),
        outputs=declared(name, OUTPUTS),
        within=next(iter(within), None),
        for_each=next(iter(for_each), None),
    )


def rendered_item(item: str, names: dict[str, str]) -> str:
    for key, value in names.items():
        item = item.replace("{{" + key + "}}", value)
    return item


def table_names(table: str) -> dict[str, str]:
    """What a script written for each table names `{{table}}` and, for a table with a day,
    `{{day_column}}`."""
    day_column = TABLES[table].day_column
    return {"table": table} | ({"day_column": day_column} if day_column else {})


def sql_names(folder: str) -> list[str]:
    """The SQL files of `sql/<folder>`, by name, in the order of their file names."""
    return [
        path.relative_to(SQL_DIR).with_suffix("").as_posix()
        for path in sorted((SQL_DIR / folder).glob("*.sql"))
    ]


@cache
def build_models() -> dict[str, Model]:
    """Every staging model and mart, by name."""
    return {name: model(name) for folder in MODEL_FOLDERS for name in sql_names(folder)}


@cache
def update_steps() -> tuple[Model, ...]:
    """The update's own steps, in the order their numbered file names give."""
    return tuple(model(name) for name in sql_names(UPDATE_FOLDER))


def run_order(models: dict[str, Model]) -> list[str]:
    """The models in an order in which each runs after every model that makes what it reads;
    among models free to run, by name, so that the order is the same on every machine."""
    makers = {output: name for name, node in models.items() for output in node.makes}
    graph = TopologicalSorter(
        {
            name: {makers[item] for item in node.reads if makers.get(item, name) != name}
            for name, node in models.items()
        }
    )
    graph.prepare()
    order: list[str] = []
    while graph.is_active():
        ready = sorted(graph.get_ready())
        order.extend(ready)
        graph.done(*ready)
    return order


@cache
def full_build_order() -> tuple[str, ...]:
    """The models a full build runs one after the other (the plumbing run within another
    model, and the macros, left out)."""
    nodes = {
        name: node
        for name, node in build_models().items()
        if node.within is None and node.outputs and name != "build/staging/macros"
    }
    return tuple(run_order(nodes))
