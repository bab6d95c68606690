"""The cluster fixtures (tests/clusterkit.py): redis-server, real workers and beat, always
stopped."""

from clusterkit import rclient, redis_server, start_beat, start_worker

__all__ = ["rclient", "redis_server", "start_beat", "start_worker"]
