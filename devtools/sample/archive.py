"""Write a whole sample archive: the schedule of sends, every event of every message, and a
few lines of everything that goes wrong in real archives."""

from pathlib import Path

from devtools.sample.catalogue import DAY, SENDER_WEIGHTS, SENDERS, TEMPLATES
from devtools.sample.simulation import Message, Simulation
from devtools.sample.spec import SampleSpec, SampleWritten
from devtools.sample.writer import ArchiveWriter, SenderProfile


def _bad_lines(simulation: Simulation, writer: ArchiveWriter) -> None:
    """A few lines of everything that goes wrong in real archives, at fixed places."""
    cloud, firehose, plain = SENDERS[0], SENDERS[1], SENDERS[2]
    first_hour = simulation.start + 3600 * 9.5
    for line in (
        b"",
        b"this line is not JSON",
        b'["an", "array"]',
        b'{"hello": "world"}',
        b'{"entry": "not a list"}',
        b'{"entry":[{"changes":[{"value":{"statuses":[{"id":"wamid.BAD","status":"read","timestamp":"yesterday"}]}}]}]}',
    ):
        writer.write(cloud, first_hour, line)
    long_text = ("very long reply " * 131072).strip()
    payload = simulation._change(
        cloud,
        {
            "messages": [
                {
                    "from": "905000000000",
                    "id": "wamid.LONG",
                    "timestamp": str(int(first_hour)),
                    "type": "text",
                    "text": {"body": long_text},
                }
            ]
        },
    )
    writer.event(cloud, first_hour, payload, wrapped=False)
    writer.cut_off_last_line(
        firehose,
        first_hour + DAY,
        b'{"received_at":"2026-11-17T09:59:59Z","payload":{"key":"whatsapp-cut","entry":[{"changes":[]}]}}',
    )
    writer.write(plain, first_hour, b"\xef\xbb\xbf" + b'{"hello": "byte order mark"}')


def _schedule(simulation: Simulation, spec: SampleSpec) -> list[tuple[float, str, SenderProfile]]:
    """When each message is sent and by whom, with the bursts and the odd webhook events."""
    rng = simulation.rng
    span = spec.days * DAY
    schedule = [
        (
            simulation.start + rng.uniform(0, span - 3 * 3600),
            "message",
            rng.choices(SENDERS, SENDER_WEIGHTS)[0],
        )
        for _ in range(spec.messages)
    ]
    for profile in SENDERS:
        schedule += [
            (burst + rng.uniform(0, 400), "message", profile)
            for burst in simulation.bursts[profile.number]
            for _ in range(6)
        ]
    for kind in ("webhook_error", "account_update"):
        schedule += [
            (simulation.start + rng.uniform(0, span), kind, rng.choice(SENDERS[:3]))
            for _ in range(2 * spec.days)
        ]
    return sorted(schedule, key=lambda item: item[0])


def write_sample(out: Path, spec: SampleSpec) -> SampleWritten:
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty; write the sample into a new folder")
    out.mkdir(parents=True, exist_ok=True)
    (out / "README.txt").write_text("Sample WhatsApp webhook archive written by `wa-etl sample`.\n")
    writer = ArchiveWriter(out)
    simulation = Simulation(spec, writer)
    rng = simulation.rng
    _bad_lines(simulation, writer)
    messages = 0
    for moment, kind, profile in _schedule(simulation, spec):
        simulation.flush_stale_batches(moment)
        writer.close_before(moment - 60)
        if kind == "webhook_error":
            simulation.webhook_error(profile, moment)
        elif kind == "account_update":
            simulation.account_update(profile, moment)
        else:
            template = rng.choice(TEMPLATES) if rng.random() < 0.85 else None
            key = f"whatsapp-{rng.getrandbits(64):016x}"
            recipient = rng.choice(simulation.recipients)
            simulation.message(
                Message(
                    messages,
                    profile,
                    moment,
                    key,
                    simulation.wamid(recipient),
                    recipient,
                    template,
                )
            )
            messages += 1
    for profile in SENDERS:
        simulation.flush_batch(profile, simulation.end)
    writer.close_all()
    return SampleWritten(
        out=str(out),
        messages=messages,
        files=writer.files_written,
        lines=writer.lines_written,
        bytes=writer.bytes_written,
    )
