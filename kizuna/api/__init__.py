"""REST transport: Nakama's /v2 paths. Parses, authorises, calls `kizuna.core`."""
