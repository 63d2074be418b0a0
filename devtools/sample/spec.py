"""What `wa-etl sample` is asked for and what it wrote."""

from datetime import date

from pydantic import BaseModel


class SampleSpec(BaseModel):
    messages: int = 2000
    days: int = 3
    seed: int = 7
    start: date = date(2026, 11, 16)


class SampleWritten(BaseModel):
    out: str
    messages: int
    files: int
    lines: int
    bytes: int

    def render(self) -> str:
        return (
            f"wrote {self.files} files, {self.lines:,} lines, {self.bytes / 1e6:,.1f} MB "
            f"(uncompressed) for {self.messages:,} messages to {self.out}"
        )
