"""The realtime socket (`/ws`): Nakama's realtime protocol, JSON format.

- socket.py: the aiohttp endpoint and the adapter sessions write through;
- envelope.py: the one codec for envelopes and the socket's error codes (fields are read, and API
  types written, with kizuna.wire);
- session.py: a connected session (bounded outgoing queue) and the node's session registry;
- tracker.py: presences per stream, with join/leave listeners;
- router.py: every delivery to, and every closing of, sockets: presences, streams, users,
  status followers, sessions, tokens;
- status.py: who follows whose online status (the index);
- modules.py: what the socket layer needs from server modules (hooks, RPCs, session events);
- service.py: the node's realtime service (the domain's `Sockets`), wiring the above, with the one
  dispatcher that runs handlers/ (which return their replies) between server modules' hooks.

Data flows transport -> core -> db as elsewhere: handlers parse and authorise, then call
kizuna.core (chat, notifications, status) for rules and SQL. This package does not import
kizuna.api nor kizuna.runtime.
"""
