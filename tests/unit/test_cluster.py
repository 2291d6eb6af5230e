"""TF_CONFIG as TensorFlow documents it: who is chief, which share each worker takes, one line when wrong."""

from __future__ import annotations

import json

import pytest

from forecaster.nn.cluster import parse_tf_config
from pipelines.errors import ForecasterError


def config(cluster: dict, task: dict) -> str:
    return json.dumps({"cluster": cluster, "task": task})


def test_worker_0_is_the_chief_when_there_is_no_chief_task():
    workers = {"worker": ["h1:1", "h2:2", "h3:3"]}
    ranks = [parse_tf_config(config(workers, {"type": "worker", "index": i})) for i in range(3)]
    assert [(c.rank, c.is_chief, c.workers) for c in ranks] == [(0, True, 3), (1, False, 3), (2, False, 3)]


def test_a_chief_task_is_the_chief_and_the_workers_follow_it():
    cluster = {"chief": ["c:1"], "worker": ["h1:1", "h2:2"]}
    chief = parse_tf_config(config(cluster, {"type": "chief", "index": 0}))
    first = parse_tf_config(config(cluster, {"type": "worker", "index": 0}))
    assert (chief.rank, chief.is_chief, chief.workers) == (0, True, 3)
    assert (first.rank, first.is_chief) == (1, False)


@pytest.mark.parametrize("text, message", [
    ("", "needs TF_CONFIG"),
    ("[1, 2]", "no \"cluster\" object"),
    (config({"worker": "h:1"}, {"type": "worker", "index": 0}), "cluster.worker must be a list"),
    (config({"worker": ["nohost"]}, {"type": "worker", "index": 0}), "host:port"),
    (config({"worker": ["h:1"], "ps": ["p:2"]}, {"type": "worker", "index": 0}), "chief and worker tasks only"),
    (config({"worker": ["h:1"]}, {"type": "evaluator", "index": 0}), "task.type must be"),
    (config({"worker": ["h:1"]}, {"type": "worker", "index": 1}), "task.index must be 0 to 0"),
    (config({"worker": ["h:1"]}, {"type": "worker", "index": True}), "task.index"),
    (config({"worker": []}, {"type": "worker", "index": 0}), "at least one task"),
])
def test_a_broken_tf_config_is_one_precise_line(text, message):
    with pytest.raises(ForecasterError, match=message) as info:
        parse_tf_config(text)
    assert "\n" not in str(info.value)
