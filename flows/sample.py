"""`wa-etl sample`: a realistic webhook archive; the same spec always gives the same archive.

Simulates outbound template messages of four business numbers (three Cloud API, one
On-Premise) and writes every webhook event they cause: template sends, accepted events,
synchronous API errors (in rate-limit bursts too), sent/delivered/read/failed statuses
(batched, keyless, late, out of order, sometimes skipping `delivered`), replies of every type
with and without context, webhook errors, duplicates (also across envelope styles), and a
few lines that are blank, not JSON, truncated or of no known kind.
"""

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from flows.archive_writer import ArchiveWriter, SenderProfile

DAY = 86400
SENDERS = (
    SenderProfile(
        "15550100001", "+1 555-010-0001", "106540352242922", "cloud", "hive_hour", "gzip", None
    ),
    SenderProfile(
        "447700900002", "447700900002", "108812770011233", "cloud", "firehose", "zstd", "payload"
    ),
    SenderProfile(
        "905320000003",
        "+90 532 000 0003",
        "102290129340011",
        "cloud",
        "hive_day",
        "none",
        "body",
        crlf=True,
    ),
    SenderProfile("4930000000004", "4930000000004", "", "on_premise", "hive_hour", "gzip", None),
)
SENDER_WEIGHTS = (5, 3, 2, 2)
TEMPLATES = (
    ("order_update", "en_US", "utility"),
    ("shipping_notice", "en_US", "utility"),
    ("otp_code", "tr", "authentication"),
    ("weekend_offer", "en_GB", "marketing"),
    ("appointment_reminder", "de", "utility"),
    ("feedback_survey", "en_US", "marketing"),
)
FAILURES = (
    (131026, "Message undeliverable"),
    (131047, "Re-engagement message"),
    (131049, "Meta chose not to deliver"),
    (130472, "User's number is part of an experiment"),
    (131000, "Something went wrong"),
    (131053, "Media upload error"),
    (132001, "Template does not exist"),
    (131050, "User has stopped marketing messages"),
)
CLOUD_API_ERRORS = (
    (131048, "Spam rate limit hit"),
    (131056, "(Business Account, Consumer Account) pair rate limit hit"),
    (368, "Temporarily blocked for policies violations"),
    (131005, "Access denied"),
    (190, "Your access token has expired"),
)
ON_PREMISE_ERRORS = (
    (429, "Rate limit exceeded"),
    (471, "Spam rate limit hit"),
    (1015, "Too many requests"),
    (2000, "Template parameter mismatch"),
    (402, "Business eligibility issue"),
    (500, "Internal server error"),
)
REPLY_TYPES = (
    "text",
    "button",
    "button_reply",
    "list_reply",
    "nfm_reply",
    "image",
    "video",
    "audio",
    "document",
    "sticker",
    "location",
    "contacts",
    "reaction",
    "order",
    "system",
    "unsupported",
)
REPLY_WEIGHTS = (35, 15, 8, 5, 2, 6, 2, 3, 3, 4, 3, 2, 5, 1, 1, 1)


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


@dataclass
class _Message:
    index: int
    sender: SenderProfile
    sent_at: float
    key: str
    wamid: str
    recipient: str
    template: tuple[str, str, str] | None


class _Simulation:
    def __init__(self, spec: SampleSpec, writer: ArchiveWriter) -> None:
        self.rng = random.Random(spec.seed)
        self.spec = spec
        self.writer = writer
        self.start = datetime.combine(spec.start, time(), tzinfo=UTC).timestamp()
        self.end = self.start + spec.days * DAY
        self.recipients = [
            f"90{self.rng.randrange(5_000_000_000, 5_999_999_999)}"
            for _ in range(max(50, spec.messages // 4))
        ]
        # a few bursts per sender and day in which sends hit the throughput limit
        self.pending: dict[str, list[tuple[float, dict[str, Any]]]] = {}
        self.bursts = {
            profile.number: sorted(
                self.start + self.rng.uniform(0, spec.days * DAY) for _ in range(2 * spec.days)
            )
            for profile in SENDERS
        }

    # -- identities and payload pieces -------------------------------------------------
    def _id(self, prefix: str) -> str:
        return f"{prefix}{self.rng.getrandbits(96):024X}"

    def _arrival(self, moment: float) -> float:
        roll = self.rng.random()
        if roll < 0.85:
            return moment + self.rng.uniform(0, 3)
        if roll < 0.98:
            return moment + self.rng.uniform(3, 600)
        return moment + self.rng.uniform(600, 6 * 3600)

    def _in_burst(self, message: _Message) -> bool:
        return any(
            0 <= message.sent_at - burst <= 420 for burst in self.bursts[message.sender.number]
        )

    def _change(self, profile: SenderProfile, value: dict[str, Any]) -> dict[str, Any]:
        metadata = {
            "display_phone_number": profile.display,
            "phone_number_id": profile.phone_number_id,
        }
        return {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "1231313123",
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": metadata,
                                **value,
                            },
                        }
                    ],
                }
            ],
        }

    def _emit(self, profile: SenderProfile, moment: float, payload: dict[str, Any]) -> None:
        """Deliver an event: once, or twice (at least once delivery), possibly in an envelope."""
        arrival = self._arrival(moment)
        self.writer.event(profile, arrival, payload, wrapped=profile.envelope is not None)
        if self.rng.random() < 0.02:
            again = arrival + self.rng.uniform(1, 7200)
            self.writer.event(profile, again, payload, wrapped=self.rng.random() < 0.5)

    # -- the events of one message -----------------------------------------------------
    def _template_send(self, message: _Message) -> None:
        assert message.template is not None
        name, language, _ = message.template
        content = f"Hello, your {name.replace('_', ' ')} #{message.index} is ready."
        template: dict[str, Any] = {
            "name": name,
            "language": {"code": language, "policy": "deterministic"},
            "components": [
                {
                    "type": "body",
                    "sub_type": "",
                    "index": "",
                    "parameters": [{"type": "text", "text": f"#{message.index}"}],
                },
                {
                    "type": "button",
                    "sub_type": "quick_reply",
                    "index": 0,
                    "parameters": [{"type": "payload", "payload": "STOP"}],
                },
            ],
        }
        payload: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": f"+{message.recipient}",
            "type": "template",
            "template": template,
            "timestamp": str(int(message.sent_at)),
            "key": message.key,
        }
        if self.rng.random() < 0.3:
            template["content"] = content
        else:
            payload["content"] = content
        self._emit(message.sender, message.sent_at, payload)

    def _api_error(self, message: _Message, moment: float) -> None:
        if message.sender.api == "on_premise":
            code, title = self.rng.choice(
                ON_PREMISE_ERRORS[:1] if self._in_burst(message) else ON_PREMISE_ERRORS
            )
            payload: dict[str, Any] = {
                "errors": [{"code": code, "title": title, "details": title}],
                "key": message.key,
            }
        else:
            code, title = (
                (130429, "(#130429) Rate limit hit")
                if self._in_burst(message)
                else self.rng.choice(CLOUD_API_ERRORS)
            )
            error: dict[str, Any] = {
                "message": title,
                "type": "OAuthException",
                "code": code,
                "fbtrace_id": self._id("A"),
            }
            if code in (130429, 131048):
                error["error_data"] = {
                    "messaging_product": "whatsapp",
                    "details": "Message throughput reached.",
                }
            payload = {"error": error, "key": message.key}
        self._emit(message.sender, moment, payload)

    def _accepted(self, message: _Message, moment: float) -> None:
        payload = {
            "messaging_product": "whatsapp",
            "contacts": [{"input": f"+{message.recipient}", "wa_id": message.recipient}],
            "messages": [{"id": message.wamid}],
            "key": message.key,
        }
        self._emit(message.sender, moment, payload)

    def _status(
        self,
        message: _Message,
        status: str,
        moment: float,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        profile = message.sender
        entry: dict[str, Any] = {
            "id": message.wamid,
            "status": status,
            "recipient_id": message.recipient,
        }
        if profile.api == "on_premise":
            entry["timestamp"] = int(moment)
            payload: dict[str, Any] = {"statuses": [entry]}
        else:
            entry["timestamp"] = str(int(moment))
            if status in ("sent", "delivered", "read") and message.template:
                category = message.template[2]
                entry["conversation"] = {
                    "id": f"CONV{message.wamid[-12:]}",
                    "origin": {"type": category},
                }
                if status == "sent":
                    entry["conversation"]["expiration_timestamp"] = str(int(moment) + DAY)
                entry["pricing"] = {"billable": True, "pricing_model": "CBP", "category": category}
            payload = self._change(profile, {"statuses": [entry]})
        if errors:
            entry["errors"] = errors
        if profile.api == "cloud" and self.rng.random() < 0.1:
            self._batch(profile, moment, entry)
            return
        roll = self.rng.random()
        if roll < 0.03:
            pass  # no key: matched to the message through its wamid
        elif roll < 0.05:
            payload["key"] = ""
        else:
            payload["key"] = message.key
        self._emit(profile, moment, payload)

    def _batch(self, profile: SenderProfile, moment: float, entry: dict[str, Any]) -> None:
        """Meta batches statuses of several messages into one webhook; such a body carries
        no single tracking key."""
        pending = self.pending.setdefault(profile.number, [])
        pending.append((moment, entry))
        if len(pending) == 3:
            self.flush_batch(profile)

    def flush_batch(self, profile: SenderProfile, now: float = 0.0) -> None:
        """Deliver the statuses batched for a sender; not before `now`, as the simulation's
        clock has passed the files of earlier hours."""
        pending = self.pending.pop(profile.number, [])
        if pending:
            payload = self._change(profile, {"statuses": [entry for _, entry in pending]})
            self._emit(profile, max(now, *(moment for moment, _ in pending)), payload)

    def flush_stale_batches(self, now: float) -> None:
        """Meta holds a batch only briefly: one waiting over five minutes goes out now."""
        for profile in SENDERS:
            pending = self.pending.get(profile.number)
            if pending and pending[0][0] < now - 300:
                self.flush_batch(profile, now)

    def _failure(self, message: _Message, moment: float) -> None:
        code, title = self.rng.choice(FAILURES)
        error = {
            "code": code,
            "title": title,
            "message": title,
            "error_data": {"details": title},
            "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
        }
        self._status(message, "failed", moment, [error])

    def _reply(self, message: _Message, moment: float, with_context: bool) -> None:
        kind = self.rng.choices(REPLY_TYPES, REPLY_WEIGHTS)[0]
        reply: dict[str, Any] = {
            "from": message.recipient,
            "id": self._id("wamid.IN"),
            "timestamp": str(int(moment)),
        }
        media = {"mime_type": "image/jpeg", "sha256": self._id(""), "id": self._id("")}
        bodies: dict[str, dict[str, Any]] = {
            "text": {
                "type": "text",
                "text": {
                    "body": self.rng.choice(["Thanks!", "When will it arrive?", "STOP", "ok 👍"])
                },
            },
            "button": {"type": "button", "button": {"payload": "STOP", "text": "Stop promotions"}},
            "button_reply": {
                "type": "interactive",
                "interactive": {
                    "type": "button_reply",
                    "button_reply": {"id": "yes", "title": "Yes"},
                },
            },
            "list_reply": {
                "type": "interactive",
                "interactive": {
                    "type": "list_reply",
                    "list_reply": {
                        "id": "slot-2",
                        "title": "Tomorrow 10:00",
                        "description": "Morning",
                    },
                },
            },
            "nfm_reply": {
                "type": "interactive",
                "interactive": {
                    "type": "nfm_reply",
                    "nfm_reply": {
                        "name": "flow",
                        "body": "Sent",
                        "response_json": '{"rating": "5"}',
                    },
                },
            },
            "image": {"type": "image", "image": {**media, "caption": "photo of the parcel"}},
            "video": {"type": "video", "video": {**media, "mime_type": "video/mp4"}},
            "audio": {"type": "audio", "audio": {**media, "mime_type": "audio/ogg", "voice": True}},
            "document": {
                "type": "document",
                "document": {**media, "mime_type": "application/pdf", "filename": "invoice.pdf"},
            },
            "sticker": {
                "type": "sticker",
                "sticker": {**media, "mime_type": "image/webp", "animated": False},
            },
            "location": {
                "type": "location",
                "location": {
                    "latitude": 41.0082,
                    "longitude": 28.9784,
                    "name": "Depot",
                    "address": "Istanbul",
                },
            },
            "contacts": {
                "type": "contacts",
                "contacts": [
                    {
                        "name": {"formatted_name": "A Friend"},
                        "phones": [{"phone": "+90 555 000 0000"}],
                    }
                ],
            },
            "reaction": {
                "type": "reaction",
                "reaction": {"message_id": message.wamid, "emoji": "👍"},
            },
            "order": {
                "type": "order",
                "order": {
                    "catalog_id": "cat1",
                    "text": "2 items",
                    "product_items": [{"product_retailer_id": "sku1", "quantity": 2}],
                },
            },
            "system": {
                "type": "system",
                "system": {"body": "User changed number", "type": "user_changed_number"},
            },
            "unsupported": {
                "type": "unsupported",
                "errors": [
                    {
                        "code": 131051,
                        "title": "Message type unknown",
                        "message": "Message type unknown",
                    }
                ],
            },
        }
        reply.update(bodies[kind])
        if with_context and kind not in ("reaction", "system"):
            reply["context"] = {"from": message.sender.number, "id": message.wamid}
        contacts = [{"profile": {"name": "Customer"}, "wa_id": message.recipient}]
        if message.sender.api == "on_premise":
            payload: dict[str, Any] = {"contacts": contacts, "messages": [reply]}
        else:
            payload = self._change(message.sender, {"contacts": contacts, "messages": [reply]})
            payload["key"] = ""
        self._emit(message.sender, moment, payload)

    def message(self, message: _Message) -> None:
        rng = self.rng
        if message.template:
            self._template_send(message)
        moment = message.sent_at + rng.uniform(0.3, 2)
        if rng.random() < (0.6 if self._in_burst(message) else 0.02):
            self._api_error(message, moment)
            return
        self._accepted(message, moment)
        sent = moment + rng.uniform(1, 4)
        if rng.random() < 0.05:
            if rng.random() < 0.5:
                self._status(message, "sent", sent)
            self._failure(message, sent + rng.uniform(1, 30))
            return
        if rng.random() > 0.03:
            self._status(message, "sent", sent)
        if rng.random() < 0.07:
            return  # no delivery report will ever come
        delivered = sent + rng.expovariate(1 / 8)
        read_at_once = rng.random() < 0.02  # Meta may skip `delivered` for a message read at once
        if not read_at_once:
            self._status(message, "delivered", delivered)
        if rng.random() < 0.005:
            self._failure(message, delivered + rng.uniform(60, 3600))
        seen = delivered
        if read_at_once or rng.random() < 0.55:
            delay = rng.choice(
                (rng.uniform(5, 600), rng.uniform(600, 8 * 3600), rng.uniform(DAY, 2 * DAY))
            )
            seen = delivered + (0 if read_at_once else delay)
            self._status(message, "read", seen)
        if rng.random() < 0.12:
            self._reply(message, seen + rng.uniform(10, 6 * 3600), with_context=rng.random() < 0.6)

    def webhook_error(self, profile: SenderProfile, moment: float) -> None:
        error = {
            "code": 131000,
            "title": "Something went wrong",
            "message": "Something went wrong",
            "error_data": {"details": "Webhook delivery issue"},
        }
        self._emit(profile, moment, self._change(profile, {"errors": [error]}))

    def account_update(self, profile: SenderProfile, moment: float) -> None:
        payload = {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "1231313123",
                    "changes": [
                        {"field": "account_update", "value": {"event": "VERIFIED_ACCOUNT"}}
                    ],
                }
            ],
        }
        self._emit(profile, moment, payload)


def _bad_lines(simulation: _Simulation, writer: ArchiveWriter) -> None:
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


def _schedule(simulation: _Simulation, spec: SampleSpec) -> list[tuple[float, str, SenderProfile]]:
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
    simulation = _Simulation(spec, writer)
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
                _Message(
                    messages,
                    profile,
                    moment,
                    key,
                    simulation._id("wamid.HBgM"),
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
