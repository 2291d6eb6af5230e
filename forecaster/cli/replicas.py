"""The options of `forecaster serve` for stateless replicas: windows in Redis, a share group."""

from __future__ import annotations

import logging
from collections.abc import Callable

import click
from click.core import ParameterSource

from pipelines.errors import ForecasterError

log = logging.getLogger("forecaster")


def replica_options(func: Callable) -> Callable:
    """``--state-store``, ``--share-group``, ``--reorder-slots``."""
    options = [
        click.option("--state-store", default=None, metavar="redis://HOST:PORT/DB",
                     help="Keep every sensor's window in this Redis, shared by replicas (instead of --state-file); "
                          "readings are acknowledged once Redis has them. A password only from "
                          "FORECASTER_SERVE_STATE_STORE or the config file."),
        click.option("--share-group", default=None, metavar="NAME",
                     help="Subscribe through $share/NAME/<subscribe> (MQTT 5 shared subscription): the broker hands "
                          "each reading to one replica of the group. Needs --state-store."),
        click.option("--reorder-slots", default=3, show_default=True, type=click.IntRange(min=0), metavar="K",
                     help="With --state-store: a reading up to K slots late still lands in its window (a missing "
                          "slot is given up, and the gap rule applies, once a reading K slots newer is held)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def replica_settings(ctx: click.Context, o: dict) -> dict:
    """The `ServeConfig` keywords of the replica options (checked there, before TensorFlow loads)."""
    from forecaster.serve.store_url import has_password

    url = o["state_store"]
    if url and has_password(url) and ctx.get_parameter_source("state_store") == ParameterSource.COMMANDLINE:
        raise ForecasterError("do not put the Redis password in --state-store on the command line (visible in `ps`); "
                              "use FORECASTER_SERVE_STATE_STORE or `state-store` in the --config file")
    if o["share_group"] and url and not o["persistent_session"]:
        log.warning("--share-group without --persistent-session: readings the broker had handed to a replica that "
                    "dies are lost with its session; give each replica a fixed --client-id and --persistent-session")
    return {"state_store": url, "share_group": o["share_group"], "reorder_slots": o["reorder_slots"]}
