"""deploy/k8s/: the manifests parse, the replicas' arguments and configuration are accepted by
`forecaster serve` as it parses them, and ports and probe paths are the daemon's."""

from __future__ import annotations

import re
import urllib.request

import pytest
import yaml
from helpers import ROOT

from forecaster.cli import mqtt as mqtt_cli
from forecaster.cli.app import main
from forecaster.serve.telemetry import Metrics, serve_http

K8S = ROOT / "deploy" / "k8s"


def documents() -> list[dict]:
    return [doc for path in sorted(K8S.glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text()) if doc]


def find(kind: str, name: str) -> dict:
    [found] = [d for d in documents() if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def container(workload: dict) -> dict:
    [c] = workload["spec"]["template"]["spec"]["containers"]
    return c


def test_kustomization_lists_every_manifest():
    listed = yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"]
    assert sorted(listed) == sorted(p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


@pytest.fixture
def served(tmp_path, monkeypatch) -> dict:
    """What `forecaster serve` makes of the container's arguments, environment, ConfigMap and
    Secret (paths inside the pod mapped into ``tmp_path``); the model is not loaded."""
    workload = find("StatefulSet", "forecaster")
    c = container(workload)
    volumes = {v["name"]: v for v in workload["spec"]["template"]["spec"]["volumes"]}
    mounts = {m["mountPath"]: tmp_path / m["name"] for m in c["volumeMounts"]}
    for local in mounts.values():
        local.mkdir()
        source = volumes[local.name]
        if "configMap" in source:
            for key, text in find("ConfigMap", source["configMap"]["name"])["data"].items():
                (local / key).write_text(text)
        if "secret" in source:
            for key, text in find("Secret", source["secret"]["secretName"])["stringData"].items():
                (local / key).write_text(text)
    (mounts["/models"] / "etth").mkdir()

    pattern = re.compile("|".join(re.escape(p) for p in sorted(mounts, key=len, reverse=True)))

    def local(text: str) -> str:  # one pass: a replacement is not replaced again
        return pattern.sub(lambda m: str(mounts[m.group(0)]), text)

    for path in mounts:
        for file in mounts[path].glob("*.toml"):
            file.write_text(local(file.read_text()))
    for env in c["env"]:
        monkeypatch.setenv(env["name"], "forecaster-0" if "valueFrom" in env else env["value"])
    seen: dict = {}
    monkeypatch.setattr(mqtt_cli, "_serve_until_signalled", lambda config: seen.setdefault("config", config) and 0)
    monkeypatch.setattr("forecaster.bundle.read_meta", lambda *_a, **_k: {"files": {}})
    monkeypatch.setattr(mqtt_cli, "check_levels", lambda *_a: None)
    assert main([local(a) for a in c["args"]]) == 0
    return {"config": seen["config"], "container": c, "workload": workload}


def test_the_replicas_arguments_are_accepted_by_serve(served):
    config = served["config"]
    assert config.mqtt.client_id == "forecaster-0" and config.mqtt.persistent and config.mqtt.password == "change-me"
    assert config.share_group and config.subscription.startswith(f"$share/{config.share_group}/")
    redis = find("Service", "forecaster-redis")
    assert config.state_store == f"redis://{redis['metadata']['name']}:{redis['spec']['ports'][0]['port']}/0"
    assert config.metrics_host == "0.0.0.0" and config.state_file is None


def test_ports_and_probes_are_the_daemons(served):
    config, c = served["config"], served["container"]
    [port] = c["ports"]
    assert port["containerPort"] == config.metrics_port
    probes = {name: c[name]["httpGet"] for name in ("startupProbe", "livenessProbe", "readinessProbe")}
    assert probes["livenessProbe"]["path"] == "/healthz" and probes["readinessProbe"]["path"] == "/readyz"
    assert all(p["port"] == port["name"] for p in probes.values())
    service = find("Service", "forecaster")
    [sport] = service["spec"]["ports"]
    assert sport["targetPort"] == port["name"] and sport["port"] == config.metrics_port
    notes = service["metadata"]["annotations"]
    assert notes["prometheus.io/scrape"] == "true" and int(notes["prometheus.io/port"]) == config.metrics_port
    server = serve_http(Metrics(), "127.0.0.1", 0, healthy=lambda: True, ready=lambda: True)
    try:
        for path in {p["path"] for p in probes.values()} | {notes["prometheus.io/path"]}:
            with urllib.request.urlopen(f"http://127.0.0.1:{server.server_address[1]}{path}", timeout=5) as answer:
                assert answer.status == 200, path
    finally:
        server.shutdown()
        server.server_close()
    assert served["workload"]["spec"]["replicas"] >= 2
    assert c["resources"]["requests"]["memory"] and c["resources"]["limits"]["memory"]


def test_redis_keeps_the_windows_on_disk_and_never_evicts_them():
    conf = find("ConfigMap", "forecaster-redis-config")["data"]["redis.conf"].split("\n")
    assert "appendonly yes" in conf and "maxmemory-policy noeviction" in conf
    assert any(line.startswith("appendfsync ") for line in conf)
