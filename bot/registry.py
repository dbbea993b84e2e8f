"""A small registry of WeChat event handlers, so other packages plug in without the bot importing them.

The bot registers its own handlers (``subscribe``, ``unsubscribe``, ``click`` …); the composition
root (``admin_cli``) registers others, e.g. push's delivery receipts::

    registry = EventRegistry()
    registry.register("MASSSENDJOBFINISH", push_receipts.on_mass_send_finished)
    app = create_app(settings, registry=registry)

A handler gets an :class:`EventContext` and returns the reply text, or ``None`` for ``success``
(nothing shown to the villager). Unknown events are answered with ``success``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from wechat.messages import InboundMessage


@dataclass(frozen=True)
class EventContext:
    """What an event handler may use: the event, a session factory and the current time."""

    message: InboundMessage
    sessionmaker: async_sessionmaker[AsyncSession]
    now: dt.datetime


EventHandler = Callable[[EventContext], Awaitable[str | None]]


class EventRegistry:
    """Event name (case-insensitive) → handler. Registering a name twice replaces the handler."""

    def __init__(self) -> None:
        self._handlers: dict[str, EventHandler] = {}

    def register(self, event_name: str, handler: EventHandler, *, replace: bool = True) -> None:
        """``replace=False`` keeps a handler already registered under ``event_name``."""
        name = event_name.strip().lower()
        if not name:
            raise ValueError("event name must not be empty")
        if replace or name not in self._handlers:
            self._handlers[name] = handler

    async def dispatch(self, ctx: EventContext) -> str | None:
        """The handler's reply for ``ctx.message.event``; ``None`` (→ ``success``) for unknown events."""
        handler = self._handlers.get(ctx.message.event.strip().lower())
        return None if handler is None else await handler(ctx)
