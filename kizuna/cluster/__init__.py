"""Running one game over several processes: a node's worker processes (`socket.workers`, started
and watched by `supervisor`), the private NATS server they talk through when `cluster.nats_url`
is empty (`embedded_nats`), and the cluster bus the nodes share (docs/cluster.md)."""
