"""The pure rules every backend applies alike: no I/O here.

A backend reads the rows an operation needs, hands them to these functions and
writes back what they return. Keeping the rules in one place is what makes the
backends behave identically; a third-party backend uses them the same way.

* :mod:`~convostore.store.rules.validation` - checks on input and on stored
  state (limits, filters, revisions, deleted threads, imports in progress);
* :mod:`~convostore.store.rules.codec` - the stored JSON form of threads and
  messages, and the storage form of times;
* :mod:`~convostore.store.rules.append` - idempotent re-sends, seq and turn
  assignment, the thread counters;
* :mod:`~convostore.store.rules.patches` - message and thread patches,
  deletion marks and restores;
* :mod:`~convostore.store.rules.paging` - cursors and pages;
* :mod:`~convostore.store.rules.snapshots` - snapshot versions, re-keying and
  normalising an import;
* :mod:`~convostore.store.rules.window` - what a context window always holds
  and the reads it takes.
"""
