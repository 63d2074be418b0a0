"""The sample archive generator behind `wa-etl sample` (a development tool, run from the
repository): a realistic webhook archive; the same spec always gives the same archive.

Simulates outbound template messages of four business numbers (three Cloud API, one
On-Premise) and writes every webhook event they cause: template sends, accepted events,
synchronous API errors (in rate-limit bursts too), sent/delivered/read/failed statuses
(batched, keyless, late, out of order, sometimes skipping `delivered`), replies of every type
with and without context, webhook errors, duplicates (also across envelope styles), and a
few lines that are blank, not JSON, truncated or of no known kind.
"""

from devtools.sample.archive import write_sample
from devtools.sample.spec import SampleSpec, SampleWritten

__all__ = ["SampleSpec", "SampleWritten", "write_sample"]
