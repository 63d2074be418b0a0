"""What an update of the previous warehouse changed: one type from the build to the export."""

from datetime import date

from pydantic import BaseModel


class Changes(BaseModel):
    """An update of the previous warehouse: the run that built that one (its export version
    bears the run's id); per table updated by day, the days it changed on (a table not named
    changed whole); and of those the days it only gained rows on, whose rows added the
    warehouse keeps as `wa_etl_build.added_<table>` for the export to append."""

    previous_run_id: str
    changed_days: dict[str, list[date]]
    appended_days: dict[str, list[date]] = {}
