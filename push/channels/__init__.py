"""Delivery channels, each a small class behind :class:`push.channels.base.Channel`."""
