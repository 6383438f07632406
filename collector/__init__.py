"""numbatd: the collector daemon (see issue #3)."""
