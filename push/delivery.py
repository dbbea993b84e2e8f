"""What a delivery is: a claimed row, what a send may end in, and the retry policy.

A channel's ``send`` returns :class:`Sent` or raises :class:`Retry` (try again later: rate limits, busy
platform, network) or :class:`Permanent` (a reason a person must act on: invalid robot key, quota used up,
bad openid). ``push.queue`` says how each outcome is written to the database.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

# Channels whose sends cannot be deduplicated by the platform: a send in flight when its worker died is
# marked ``uncertain`` for a person to settle, never resent blindly. Mass sends carry a clientmsgid (the
# platform answers 45065 to a repeat) and loudspeaker files are replaced atomically, so those are retried.
UNDEDUPLICABLE = frozenset({"robot", "template"})
FINAL_STATES = frozenset({"sent", "failed", "uncertain", "cancelled"})


@dataclass(frozen=True)
class Claimed:
    """A delivery a worker holds a lease on."""

    id: int
    notice_id: str
    channel: str
    target: str
    slot: str
    kind: str
    attempts: int
    parts_sent: int
    late: bool
    priority: int


@dataclass(frozen=True)
class Sent:
    note: str = ""
    external_id: str = ""


class SendError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Retry(SendError):
    """A retryable failure; ``after`` seconds when the platform said how long to wait, else backoff decides."""

    def __init__(self, reason: str, after: float | None = None, *, count: bool = True) -> None:
        super().__init__(reason)
        self.after = after
        self.count = count  # False: not a failed attempt (our own rate limit said "not yet")


class Permanent(SendError):
    """A failure that retrying will not fix; the reason is recorded for staff."""


@dataclass(frozen=True)
class RetryStrategy:
    """Exponential backoff with jitter: ``base × 2^(attempt-1)``, capped, times a random factor in [0.5, 1]."""

    base: float = 5.0
    cap: float = 1800.0
    max_attempts: int = 8

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        raw = min(self.cap, self.base * 2 ** max(0, attempt - 1))
        return raw * (0.5 + (rng or random).random() / 2)

    def next_due(self, now: dt.datetime, attempt: int, after: float | None = None) -> dt.datetime:
        seconds = after if after is not None else self.delay(attempt)
        return now + dt.timedelta(seconds=seconds)


class Uncertain(SendError):
    """The request went out but its answer did not come: a person must check before any resend."""
