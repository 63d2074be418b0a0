"""The files a night reads, cut into reading tasks of about the same bytes of JSON."""

from transforms.source.discover import ArchiveFile

TASKS_PER_WORKER = 4
MIN_PARTITION_BYTES = 16 << 20
# a night smaller than this per worker is one task: a task's fixed cost (about 0.4 s) would
# outweigh the sharing
MIN_SHARED_BYTES = 4 << 20
COMPRESSION_RATIO = 10


def json_bytes_estimate(file: ArchiveFile) -> int:
    """About how many bytes of JSON lines a file holds: what reading it costs. Webhook lines
    compress about tenfold (the sample's gzip and zstd files: 12x)."""
    return file.size * (1 if file.compression == "none" else COMPRESSION_RATIO)


def _task_count(total: int, partition_bytes: int, workers: int) -> int:
    """How many tasks read `total` bytes of JSON: about four per worker, none under
    `MIN_PARTITION_BYTES` nor over `partition_bytes` (but one per worker when each gets
    `MIN_SHARED_BYTES`), and a multiple of the workers when there are more tasks than workers
    (a last round that leaves workers idle sets the pace)."""
    fewest = -(-total // max(partition_bytes, 1))
    count = max(
        1,
        fewest,
        min(workers * TASKS_PER_WORKER, total // MIN_PARTITION_BYTES),
        min(workers, total // MIN_SHARED_BYTES),
    )
    if count > workers and count % workers:
        rounded = count - count % workers
        count = rounded if rounded >= fewest else rounded + workers
    return count


def partitions(
    files: list[ArchiveFile], partition_bytes: int, workers: int
) -> list[list[ArchiveFile]]:
    """Consecutive files in groups of about the same bytes of JSON (estimated), one task
    each: small enough that every worker gets several tasks (a worker left with the last
    big task while the others idle would set the night's pace), not so small that the fixed
    cost of a task shows. A small night is one task per worker."""
    total = sum(map(json_bytes_estimate, files))
    target = -(-total // _task_count(total, partition_bytes, workers))
    groups: list[list[ArchiveFile]] = [[]]
    sizes = [0]
    for file in files:
        if groups[-1] and sizes[-1] + json_bytes_estimate(file) > target:
            groups.append([])
            sizes.append(0)
        groups[-1].append(file)
        sizes[-1] += json_bytes_estimate(file)
    # the few files left over when the groups fill short of the target: not a task of their own
    if len(groups) > 1 and sizes[-2] + sizes[-1] <= min(target + target // 4, partition_bytes):
        groups[-2].extend(groups.pop())
    return [group for group in groups if group]
