"""The store contract as a pytest test-class base.

Subclass :class:`StoreContract` in a ``Test*`` class and override the ``store``
fixture to yield a fresh, empty store of your backend (a ``Store``, or a
``SyncStoreAdapter`` around an ``AsyncStore`` to test the async face), built
with the suite's ``settings`` fixture so that the tests can drive its clock.
Override ``reopen`` too when the backend declares the ``durable`` capability
(it must close the stores handed out so far and open a new one on the same
data), and ``process_url`` when it declares ``multi_process``. See
``docs/testing.md``.

Every test states one promise of the contract (DESIGN.md, "The store
contract"); the reference semantics are those of the in-memory backend, and
bad input is checked against that reference so that every backend rejects it
the same way (same exception type, field and message). A test of a capability
(:class:`~convostore.store.backend.Capabilities`) runs only on backends that
declare it.

The suite is one class per concept, each usable on its own:

============================  ====================================================
:class:`SeedContract`         the reference tests of seeds 000, 002 and 003
:class:`ThreadContract`       threads: fields, updates, deletes, listing
:class:`MessageContract`      messages: appends, counters, deletes, re-sends
:class:`EditContract`         edits keep a message whole
:class:`RewriteContract`      purge one, pop, clear, replace: seq and counters exact
:class:`PagingContract`       pages, cursors, whole-thread reads
:class:`ContextContract`      context windows
:class:`ImportContract`       export and import
:class:`RevisionContract`     ``expected_revision``
:class:`TenantContract`       tenant isolation
:class:`IdentifierContract`   real-world and refused ids
:class:`BadInputContract`     bad input refused alike, nothing written
:class:`PropertyContract`     hypothesis round trips
:class:`SearchContract`       full-text search: matches, filters, walls, paging
:class:`AttachmentContract`   every part kind; attachments (capability ``attachments``)
:class:`BranchContract`       branches sharing history (capability ``branches``)
:class:`StateContract`        user and app state, state changes with an append
:class:`DurabilityContract`   reopening (capability ``durable``)
:class:`ConcurrencyContract`  threads and processes (capability ``multi_process``)
============================  ====================================================
"""

from __future__ import annotations

from convostore.testing.contract.attachments import AttachmentContract, every_part_kind
from convostore.testing.contract.bad_input import BAD_INPUT, BadInputContract
from convostore.testing.contract.base import (
    PROPERTY_SETTINGS,
    ContractBase,
    StoreLike,
    all_messages,
    capabilities,
    execute_op,
    fingerprint,
    require_capability,
    seqs,
)
from convostore.testing.contract.branches import BranchContract
from convostore.testing.contract.clock import ManualClock
from convostore.testing.contract.concurrency import ConcurrencyContract
from convostore.testing.contract.context import ContextContract
from convostore.testing.contract.durability import DurabilityContract
from convostore.testing.contract.edits import EditContract
from convostore.testing.contract.identifiers import REAL_WORLD_IDS, REFUSED_IDS, IdentifierContract
from convostore.testing.contract.imports import ImportContract
from convostore.testing.contract.messages import MessageContract
from convostore.testing.contract.paging import PagingContract
from convostore.testing.contract.properties import PropertyContract
from convostore.testing.contract.revisions import RevisionContract
from convostore.testing.contract.rewrites import RewriteContract, assert_recounted
from convostore.testing.contract.search import SearchContract
from convostore.testing.contract.seeds import SeedContract
from convostore.testing.contract.state import StateContract
from convostore.testing.contract.tenants import TenantContract
from convostore.testing.contract.threads import ThreadContract

__all__ = [
    "BAD_INPUT",
    "PROPERTY_SETTINGS",
    "REAL_WORLD_IDS",
    "REFUSED_IDS",
    "AttachmentContract",
    "BadInputContract",
    "BranchContract",
    "ConcurrencyContract",
    "ContextContract",
    "ContractBase",
    "DurabilityContract",
    "EditContract",
    "IdentifierContract",
    "ImportContract",
    "ManualClock",
    "MessageContract",
    "PagingContract",
    "PropertyContract",
    "RevisionContract",
    "RewriteContract",
    "SearchContract",
    "SeedContract",
    "StateContract",
    "StoreContract",
    "StoreLike",
    "TenantContract",
    "ThreadContract",
    "all_messages",
    "assert_recounted",
    "capabilities",
    "every_part_kind",
    "execute_op",
    "fingerprint",
    "require_capability",
    "seqs",
]


class StoreContract(
    SeedContract,
    ThreadContract,
    MessageContract,
    EditContract,
    RewriteContract,
    PagingContract,
    ContextContract,
    ImportContract,
    RevisionContract,
    TenantContract,
    IdentifierContract,
    BadInputContract,
    PropertyContract,
    SearchContract,
    AttachmentContract,
    BranchContract,
    StateContract,
    DurabilityContract,
    ConcurrencyContract,
):
    """Conformance tests every convostore backend passes, in both faces.

    Override the ``store`` fixture (and ``reopen`` for a durable backend,
    ``process_url`` for a multi-process one). Class attributes tune the
    heavier tests (see :class:`ConcurrencyContract`).
    """
