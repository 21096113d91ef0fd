"""The realtime socket (`/ws`): Nakama's realtime protocol, JSON format.

- socket.py: the aiohttp endpoint and the adapter sessions write through;
- envelope.py: the one codec for envelopes, error codes and field conventions;
- session.py: a connected session (bounded outgoing queue) and the node's session registry;
- tracker.py: presences per stream, with join/leave listeners;
- router.py: delivery of encoded envelopes to presences, streams and users;
- status.py: who follows whose online status;
- service.py: the node's realtime service, wiring the above, dispatching envelopes to handlers/.

Data flows transport -> core -> db as elsewhere: handlers parse and authorise, then call
kizuna.core (chat, notifications, status) for rules and SQL.
"""
