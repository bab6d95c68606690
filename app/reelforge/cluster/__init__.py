"""Cluster mode: the same job function as a Celery task on `light` and `heavy` queues over Redis.

Nothing here imports Qt or the history database: a worker machine runs this package and the
job function only. The submitter side (the executor) lives in reelforge.executors.cluster.
"""
