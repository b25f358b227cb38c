"""The SQL layer both SQL engines share: one set of sans-I/O handlers.

* :mod:`~convostore.store.sql.handlers` - every operation, written once as a
  generator that yields :class:`~convostore.store.sql.statements.Query`
  records and receives what the engine fetched for each;
* :mod:`~convostore.store.sql.statements` - the query records and the
  :class:`~convostore.store.sql.statements.Statements` contract: the statement
  text (and the parameter forms) each engine supplies;
* :mod:`~convostore.store.sql.rows` - the physical shape both engines store
  (a thread's counters and a message's flags in columns of their own) and the
  decoding of rows into threads and messages.

An engine supplies its statements and a driver that runs handlers on its
connections: SQLite (``convostore.store.sqlite``) a small synchronous one,
PostgreSQL (``convostore.store.postgres``) a sync and an async one over its
connection pools. Neither writes an operation of its own.
"""
