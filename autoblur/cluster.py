"""Ray, for the work spread over a cluster: a batch's files and a long file's pieces."""

from __future__ import annotations

import os
from typing import Any

from autoblur.errors import ConfigError


def start_ray() -> Any:
    """The ``ray`` module, joined to the cluster at ``RAY_ADDRESS`` or to a new local instance.

    Raises:
        ConfigError: Ray is not installed.
    """
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "--executor ray needs Ray: pip install 'autoblur[cluster]' (or pip install ray)"
        ) from None
    cluster = os.environ.get("RAY_ADDRESS")
    ray.init(
        # "local": a new instance, never the cluster that Ray's ray_current_cluster file names
        # (a stale one there made ray.init() wait for a dead head node), on the loopback
        # interface: a local instance has no reason to listen on the network.
        address=cluster or "local",
        **({} if cluster else {"_node_ip_address": "127.0.0.1"}),
        ignore_reinit_error=True,
        include_dashboard=False,
        log_to_driver=False,
    )
    return ray
