"""The webhook events of one simulated message, as Meta and Insider One deliver them: late,
out of order, batched, twice, or not at all."""

import base64
import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any

from devtools.sample.catalogue import (
    CLOUD_API_ERRORS,
    DAY,
    FAILURES,
    ON_PREMISE_ERRORS,
    REPLY_TYPES,
    REPLY_WEIGHTS,
    SENDERS,
    reply_body,
)
from devtools.sample.spec import SampleSpec
from devtools.sample.writer import ArchiveWriter, SenderProfile

# the customers' calling codes (Turkey most, then India, Brazil, Germany)
CALLING_CODES = ("90", "90", "90", "90", "90", "90", "91", "55", "49", "90")
# the sender whose account is still priced per conversation
CONVERSATION_PRICED = "447700900002"


@dataclass
class Message:
    index: int
    sender: SenderProfile
    sent_at: float
    key: str
    wamid: str
    recipient: str
    template: tuple[str, str, str] | None


class Simulation:
    def __init__(self, spec: SampleSpec, writer: ArchiveWriter) -> None:
        self.rng = random.Random(spec.seed)
        self.spec = spec
        self.writer = writer
        self.start = datetime.combine(spec.start, time(), tzinfo=UTC).timestamp()
        self.end = self.start + spec.days * DAY
        # customers in a few markets, most of them in Turkey (one calling code, one country each)
        self.recipients = [
            f"{CALLING_CODES[index % len(CALLING_CODES)]}"
            f"{self.rng.randrange(5_000_000_000, 5_999_999_999)}"
            for index in range(max(50, spec.messages // 4))
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
    @staticmethod
    def _pricing(message: Message, status: str, moment: float) -> dict[str, Any]:
        """A delivery report's pricing as Meta writes it since July 2025 (per message); one
        sender's account still priced per conversation (one a day per customer), as before."""
        category = message.template[2] if message.template else "service"
        if message.sender.number != CONVERSATION_PRICED:
            return {
                "pricing": {
                    "billable": True,
                    "pricing_model": "PMP",
                    "type": "regular",
                    "category": category,
                }
            }
        opened = f"{message.sender.number}|{message.recipient}|{int(message.sent_at // DAY)}"
        conversation: dict[str, Any] = {
            "id": hashlib.md5(opened.encode()).hexdigest()[:32],
            "origin": {"type": category},
        }
        if status == "sent":
            conversation["expiration_timestamp"] = str(int(moment) + DAY)
        return {
            "conversation": conversation,
            "pricing": {"billable": True, "pricing_model": "CBP", "category": category},
        }

    def _id(self, prefix: str) -> str:
        return f"{prefix}{self.rng.getrandbits(96):024X}"

    def wamid(self, number: str) -> str:
        """A WhatsApp message id as Meta writes one: base64 of a small record that holds the
        customer's number in clear (`wamid.HBgM` + base64 of the digits...), then a random
        id (as many random bits as `_id` draws, so the rest of the archive stays the same)."""
        record = (
            bytes([0x1C, 0x18, len(number)])
            + number.encode()
            + bytes([0x15, 0x02, 0x00, 0x12, 0x18, 0x18])
            + f"{self.rng.getrandbits(96):024X}".encode()
            + b"\x00"
        )
        return "wamid." + base64.b64encode(record).decode()

    def _arrival(self, moment: float) -> float:
        roll = self.rng.random()
        if roll < 0.85:
            return moment + self.rng.uniform(0, 3)
        if roll < 0.98:
            return moment + self.rng.uniform(3, 600)
        return moment + self.rng.uniform(600, 6 * 3600)

    def _in_burst(self, message: Message) -> bool:
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
    def _template_send(self, message: Message) -> None:
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

    def _api_error(self, message: Message, moment: float) -> None:
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

    def _accepted(self, message: Message, moment: float) -> None:
        payload = {
            "messaging_product": "whatsapp",
            "contacts": [{"input": f"+{message.recipient}", "wa_id": message.recipient}],
            "messages": [{"id": message.wamid}],
            "key": message.key,
        }
        self._emit(message.sender, moment, payload)

    def _status(
        self,
        message: Message,
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
                entry.update(self._pricing(message, status, moment))
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

    def _failure(self, message: Message, moment: float) -> None:
        code, title = self.rng.choice(FAILURES)
        error = {
            "code": code,
            "title": title,
            "message": title,
            "error_data": {"details": title},
            "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
        }
        self._status(message, "failed", moment, [error])

    def _reply(self, message: Message, moment: float, with_context: bool) -> None:
        kind = self.rng.choices(REPLY_TYPES, REPLY_WEIGHTS)[0]
        reply: dict[str, Any] = {
            "from": message.recipient,
            "id": self.wamid(message.recipient),
            "timestamp": str(int(moment)),
        }
        reply.update(reply_body(kind, self.rng, message.wamid, self._id))
        if with_context and kind not in ("reaction", "system"):
            reply["context"] = {"from": message.sender.number, "id": message.wamid}
        contacts = [{"profile": {"name": "Customer"}, "wa_id": message.recipient}]
        if message.sender.api == "on_premise":
            payload: dict[str, Any] = {"contacts": contacts, "messages": [reply]}
        else:
            payload = self._change(message.sender, {"contacts": contacts, "messages": [reply]})
            payload["key"] = ""
        self._emit(message.sender, moment, payload)

    def message(self, message: Message) -> None:
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
