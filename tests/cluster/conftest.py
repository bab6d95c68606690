"""The cluster fixtures (tests/clusterkit.py): redis-server and real workers, always stopped."""

from clusterkit import rclient, redis_server, start_worker

__all__ = ["rclient", "redis_server", "start_worker"]
