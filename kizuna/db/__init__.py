"""Database access: address parsing, the embedded PostgreSQL, connections and the pool."""
