"""The domain: rules and SQL. Nothing here knows about HTTP or sockets."""
