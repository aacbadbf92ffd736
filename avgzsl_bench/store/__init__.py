"""Results: the record schema, the SQLite store, job claims and the DataFrame view."""
