"""Transitional: moved to :mod:`convostore.store.rules.paging`."""

from convostore.store.rules.paging import message_page, thread_page

__all__ = ["message_page", "thread_page"]
