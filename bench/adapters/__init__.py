"""One adapter per library: the same handful of operations, written the way a
user of that library would write them. See ``base.py`` for the contract."""
