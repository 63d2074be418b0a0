"""The swaps that publish: the export link moved to the new version in one rename, the
warehouse replaced in one rename while readers of the old one keep reading it."""

from pathlib import Path

import duckdb
import pytest

from transforms.publish.swap import new_export_dir, swap_in_export, swap_in_warehouse


def test_the_export_link_moves_to_the_new_version_and_the_old_one_goes(tmp_path: Path) -> None:
    export = tmp_path / "export"
    first = new_export_dir(export, "run-1")
    (first / "marker").write_text("1")
    swap_in_export(export, first)
    assert export.is_symlink() and (export / "marker").read_text() == "1"
    second = new_export_dir(export, "run-2")
    (second / "marker").write_text("2")
    swap_in_export(export, second)
    assert (export / "marker").read_text() == "2"
    assert not first.exists()
    assert sorted(path.name for path in (tmp_path / ".export.versions").iterdir()) == ["run-2"]


def test_a_real_folder_in_the_way_is_not_replaced(tmp_path: Path) -> None:
    export = tmp_path / "export"
    (export / "mine").mkdir(parents=True)
    version = new_export_dir(export, "run-1")
    with pytest.raises(FileExistsError, match="did not create"):
        swap_in_export(export, version)
    assert (export / "mine").is_dir()


def test_a_reader_of_the_old_warehouse_keeps_reading_it_after_the_swap(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as old:
        old.execute("create table night as select 1 as number")
    reader = duckdb.connect(str(warehouse), read_only=True)
    built = tmp_path / ".warehouse.duckdb.run-2.building"
    with duckdb.connect(str(built)) as new:
        new.execute("create table night as select 2 as number")
    swap_in_warehouse(warehouse, built)
    assert reader.execute("select number from night").fetchall() == [(1,)]
    reader.close()
    assert not built.exists()
    with duckdb.connect(str(warehouse), read_only=True) as fresh:
        assert fresh.execute("select number from night").fetchall() == [(2,)]
