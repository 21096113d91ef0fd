"""The migration engine behind `kizuna migrate`.

One responsibility a module, in the manner of Django's migrations:

- `loader`: reads the SQL files, their directives and checksums
- `journal`: the table that records what is applied (and how far a partial run got)
- `lock`: the polling cluster lock that every `migrate` process takes
- `schema`: catalog snapshots, for `verify` (drift) and INVALID-index repair
- `lint`: what a statement will lock or rewrite
- `executor`: up / down / redo / status / plan / verify
- `guard`: the start-up check that refuses to serve on a schema this release does not match
"""

from kizuna.migrate.errors import MigrateError

__all__ = ["MigrateError"]
