"""The multi-worker cluster this process belongs to, read from ``TF_CONFIG`` (no TensorFlow needed).

``TF_CONFIG`` is TensorFlow's own JSON (the one `tf.distribute.MultiWorkerMirroredStrategy`
reads), e.g. on the first of two machines::

    {"cluster": {"worker": ["10.0.0.1:12345", "10.0.0.2:12345"]}, "task": {"type": "worker", "index": 0}}

A ``"chief"`` task list may stand beside ``"worker"``; then the chief is the chief, else
worker 0 is (TensorFlow's rule). It is checked here, before TensorFlow loads, so that a
missing or broken one is one line.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from pipelines.errors import ForecasterError

EXAMPLE = '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}'
ROLES = ("chief", "worker")


@dataclass(frozen=True)
class Cluster:
    """This process's place in the cluster.

    Attributes:
        tasks: the addresses of every task, the chief (if any) first, then the workers.
        task_type: ``"chief"`` or ``"worker"``.
        index: this task's index among those of its type.

    Example:
        >>> c = parse_tf_config('{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 1}}')
        >>> c.workers, c.rank, c.is_chief
        (2, 1, False)
    """

    tasks: tuple[str, ...]
    task_type: str
    index: int
    has_chief: bool = False

    @property
    def workers(self) -> int:
        """How many processes train together."""
        return len(self.tasks)

    @property
    def rank(self) -> int:
        """This process's place among them: 0 for the chief, then the workers in order."""
        return self.index + (1 if self.task_type == "worker" and self.has_chief else 0)

    @property
    def is_chief(self) -> bool:
        """True for the one process that writes the bundle."""
        return self.rank == 0


def parse_tf_config(text: str | None) -> Cluster:
    """The `Cluster` a ``TF_CONFIG`` value describes.

    Raises:
        ForecasterError: none given, not JSON, or not the shape TensorFlow documents (one line
            that says what is wrong and shows the shape).
    """
    if not text or not text.strip():
        raise ForecasterError(f"--distributed needs TF_CONFIG in the environment, e.g. TF_CONFIG='{EXAMPLE}' "
                              "(docs/distributed-training.md)")
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ForecasterError(f"TF_CONFIG is not JSON ({exc}); expected e.g. {EXAMPLE}") from None
    if not isinstance(config, Mapping) or not isinstance(config.get("cluster"), Mapping):
        raise ForecasterError(f"TF_CONFIG has no \"cluster\" object; expected e.g. {EXAMPLE}")
    cluster, task = config["cluster"], config.get("task")
    lists = {role: cluster.get(role, []) for role in ROLES}
    for role, addresses in lists.items():
        if not isinstance(addresses, list) or not all(isinstance(a, str) and ":" in a for a in addresses):
            raise ForecasterError(f"TF_CONFIG cluster.{role} must be a list of \"host:port\" strings. "
                                  f"Received: {addresses!r}")
    if len(lists["chief"]) > 1 or not lists["chief"] + lists["worker"]:
        raise ForecasterError(f"TF_CONFIG needs at most one chief and at least one task; expected e.g. {EXAMPLE}")
    extra = sorted(set(cluster) - set(ROLES))
    if extra:
        raise ForecasterError(f"TF_CONFIG cluster has task type(s) {extra}: multi-worker training takes chief and "
                              "worker tasks only")
    if not isinstance(task, Mapping) or task.get("type") not in ROLES:
        raise ForecasterError(f"TF_CONFIG task.type must be \"worker\" or \"chief\". Received: task={task!r}")
    index = task.get("index", 0)
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(lists[task["type"]]):
        raise ForecasterError(f"TF_CONFIG task.index must be 0 to {len(lists[task['type']]) - 1} for "
                              f"{len(lists[task['type']])} {task['type']} task(s). Received: {index!r}")
    return Cluster(tasks=tuple(lists["chief"] + lists["worker"]), task_type=task["type"], index=index,
                   has_chief=bool(lists["chief"]))
