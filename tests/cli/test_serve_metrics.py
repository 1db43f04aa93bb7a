"""`salesbot serve` runs several gunicorn workers; Prometheus scrapes one of them and must still see all of them."""

from __future__ import annotations

import os
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from salesbot.cli import main
from tests.conftest import serving

ROUNDS = 50
PER_ROUND = 40


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()


def healthz_count(text: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            wanted = {"route": "/healthz", "method": "GET", "status": "200"}
            if sample.name == "salesbot_http_request_duration_seconds_count" and sample.labels == wanted:
                return sample.value
    return 0.0


def workers_reporting(metrics_dir: Path) -> set[str]:
    """The pids that wrote request histograms (the client names each worker's file `histogram_<pid>.db`)."""
    return {path.stem.rpartition("_")[2] for path in metrics_dir.glob("histogram_*.db")}


def test_every_worker_counts_into_one_metrics_page(tmp_path):
    temp = tmp_path / "temp"
    temp.mkdir()
    with serving(tmp_path, prepare=lambda env: {"TMPDIR": str(temp)}) as server:
        [metrics_dir] = temp.glob("salesbot-metrics-*")  # serve made a fresh one for this start
        before = healthz_count(get(f"{server.url}/metrics"))  # serving() asked /healthz until it answered
        sent = 0
        with ThreadPoolExecutor(max_workers=16) as pool:
            # Concurrent fresh connections spread over both workers; go on until both have answered some.
            for _round in range(ROUNDS):
                list(pool.map(get, [f"{server.url}/healthz"] * PER_ROUND))
                sent += PER_ROUND
                if len(workers_reporting(metrics_dir)) >= 2:
                    break
        assert len(workers_reporting(metrics_dir)) == 2
        scrapes = [get(f"{server.url}/metrics") for _ in range(6)]  # answered by either worker
        assert [healthz_count(text) - before for text in scrapes] == [sent] * len(scrapes)
    assert not metrics_dir.exists()  # removed when gunicorn stops


def test_serve_keeps_a_metrics_directory_the_operator_chose(runner, monkeypatch, tmp_path):
    started = {}
    monkeypatch.setattr(os, "execv", lambda path, argv: started.update(argv=argv, env=dict(os.environ)))
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    assert runner.invoke(main, ["serve", "--workers", "2"]).exit_code == 0
    assert started["env"]["PROMETHEUS_MULTIPROC_DIR"] == str(tmp_path)
    config = Path(started["argv"][started["argv"].index("--config") + 1])
    assert config.name == "gunicorn_config.py"
    assert "def child_exit" in config.read_text()
