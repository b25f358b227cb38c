"""JSON-file backend: one file per thread, replaced atomically, one writer process.

Why it exists: a store that needs nothing but a directory, whose content a person
can read, diff and back up with ordinary tools. Why it looks like this:

* It is the memory backend plus persistence. Every thread file is read when the
  store opens, so reads cost exactly what they cost in memory; each write changes
  memory, then rewrites the file of the one thread it touched through
  :meth:`MemoryBackend._persist`. If that fails, memory is rolled back and the
  caller gets a typed error, so memory and disk never disagree.
* A file is never written in place (a crash mid-write would leave it torn, which
  is what the seed's single-file store did). The new content goes to a temporary
  file in the same directory, is flushed and fsynced, renamed over the old file
  (``os.replace`` is atomic), and the directory is fsynced so the rename itself
  survives a power loss. A kill at any moment leaves either the old or the new
  file, plus perhaps a stray temporary file that the next open removes.
* The whole thread is rewritten on each write, so an append costs O(thread size).
  That is the price of one self-contained file per thread; SQLite is the backend
  for anything beyond small, local use.
* Only one process may have a directory open: an exclusive ``flock`` on
  ``<dir>/.lock`` is taken at open and held until :meth:`close`. The OS drops it
  when the process dies, so a killed writer never leaves the store locked.
* A damaged thread file (unreadable, not JSON, the wrong shape, or holding a
  thread that does not belong under its name) costs that one thread, not the
  store: the store opens, lists and serves every other thread, and any call on
  the damaged thread raises :class:`~convostore.errors.DamagedThreadError`
  naming the file, writes included, so the file is never overwritten and can be
  restored from a backup. ``health_check`` lists the damaged files. A file
  written by a newer convostore still stops the store from opening.
* Ids may hold any character but controls, so they are not used as file names
  as they are. Ids made only of ASCII letters, digits and ``_ . : @ + = -`` (not
  starting with punctuation other than ``_``), the only ids older versions
  accepted, keep their names; any other id is percent-encoded (UTF-8, every byte
  outside that set as ``%XX``, a leading ``.`` too), so a name never holds a
  ``/``, never starts with a dot and is ASCII whatever the id. Names over 200
  characters are cut to 100 and made unique again by a digest; the file itself
  holds the exact id, so nothing depends on reading a name back.
* A write never replaces a file the store did not load. On a file system that
  treats two names as one (case- or normalization-insensitive), a thread whose
  file name collides with another's is refused instead of overwriting it.

The package, by concept: :mod:`~convostore.store.jsonfile.backend` (the
backend), :mod:`~convostore.store.jsonfile.layout` (what the directory holds:
the thread file format and its checks, the lock file's name),
:mod:`~convostore.store.jsonfile.names` (file names for ids),
:mod:`~convostore.store.jsonfile.files` (atomic replacement and ``fsync``),
:mod:`~convostore.store.jsonfile.lock` (the one-writer lock),
:mod:`~convostore.store.jsonfile.health` (the checks ``health_check`` runs on
the directory) and :mod:`~convostore.store.jsonfile.options` (the URL options).
"""

from __future__ import annotations

from convostore.store.jsonfile.backend import JsonFileBackend
from convostore.store.jsonfile.layout import FORMAT, FORMAT_VERSION
from convostore.store.jsonfile.layout import LOCK_NAME as LOCK_NAME
from convostore.store.jsonfile.names import _file_stem as _file_stem

__all__ = ["FORMAT", "FORMAT_VERSION", "JsonFileBackend"]
