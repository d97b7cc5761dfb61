"""A real Celery broker: the national DAG's mapped province tasks run on workers.

The national deployment (docs/deployment.md) runs each province's period as
a mapped task on CeleryExecutor workers. This test builds that on this
machine, on loopback only: a throw-away `redis-server` as the broker, an
Airflow home with SQLite metadata (Airflow 3 runs the CeleryExecutor on
SQLite; compose uses PostgreSQL), the API server's execution API, through
which a worker's tasks report, and two `airflow celery worker`s, one per
queue (`default`, `pdpb_large`), as where big machines take the big
provinces. One run of a DAG of pdpb_national's shape (tests/data/celery_dag.py)
is then driven by Airflow's own runner with the CeleryExecutor
(`DAG.test(use_executor=True)`): no task runs in the driver, so a task ends
only if the broker carried it to a worker. Celery's result backend is a
database, as in compose (SQLite here). The worker health check of
docker-compose.yml is run against a live worker too.

Skipped, with the reason, where Debian's redis-server or the Celery provider
is not installed (.ci/run installs redis-server where it can).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parent.parent
PROBE_DAG = Path(__file__).resolve().parent / "data" / "celery_dag.py"
LARGE_QUEUE = "pdpb_large"
WORKERS = {"default": "default", "large": LARGE_QUEUE}  # token -> the queue it serves
RUN_TIMEOUT = 120  # seconds for the whole DAG run; it takes about 20 here

if shutil.which("redis-server") is None:
    pytest.skip(
        "redis-server is not installed (Debian package redis-server; .ci/run installs it)",
        allow_module_level=True,
    )
pytest.importorskip(
    "airflow.providers.celery",
    reason="apache-airflow-providers-celery is not installed: run `make setup`",
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(check, what: str, timeout: float, logs: list[Path]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    pytest.fail(f"{what} not ready after {timeout:.0f} s\n" + _tails(logs))


def _tails(logs: list[Path], lines: int = 30) -> str:
    parts = []
    for log in logs:
        text = log.read_text(errors="replace").splitlines() if log.exists() else []
        parts.append(f"--- {log.name}\n" + "\n".join(text[-lines:]))
    return "\n".join(parts)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _broker_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Broker, metadata, execution API and two workers; yields how to reach them."""
    from pdpb.orchestration import stop_process_tree

    root = tmp_path_factory.mktemp("celery")
    dags = root / "dags"
    dags.mkdir()
    shutil.copy(PROBE_DAG, dags / PROBE_DAG.name)
    redis_port, api_port = _free_port(), _free_port()
    bin_dir = str(Path(sys.executable).parent)
    # Nothing of the session's own Airflow or home leaks into these processes.
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PDPB_"))}
    env = {
        **base,
        "PATH": os.pathsep.join([bin_dir, base.get("PATH", "")]),
        "AIRFLOW_HOME": str(root / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{root / 'airflow.db'}",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(root / "logs"),
        "AIRFLOW__CELERY__BROKER_URL": f"redis://:@127.0.0.1:{redis_port}/0",
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+sqlite:///{root / 'celery-results.db'}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": uuid.uuid4().hex,
    }
    airflow = [sys.executable, "-m", "airflow"]
    logs: list[Path] = []
    children: list[subprocess.Popen] = []

    def start(name: str, command: list[str], extra: dict[str, str] | None = None) -> None:
        log = root / f"{name}.log"
        logs.append(log)
        with log.open("wb") as out:
            children.append(
                subprocess.Popen(
                    command, env={**env, **(extra or {})}, cwd=root, stdout=out,
                    stderr=subprocess.STDOUT, start_new_session=True,
                )
            )  # fmt: skip

    try:
        start("redis", ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1",
                        "--save", "", "--appendonly", "no", "--dir", str(root)])  # fmt: skip
        migrate = subprocess.run(
            [*airflow, "db", "migrate"], env=env, cwd=root, capture_output=True, text=True
        )
        assert migrate.returncode == 0, migrate.stdout[-2000:] + migrate.stderr[-2000:]
        start("api-server", [*airflow, "api-server", "--apps", "execution",
                             "--host", "127.0.0.1", "--port", str(api_port)])  # fmt: skip
        nodes = {}
        for token, queue in WORKERS.items():
            nodes[token] = f"pdpb-{token}-{uuid.uuid4().hex[:8]}"
            start(f"worker-{token}", [*airflow, "celery", "worker", "--queues", queue,
                                      "--concurrency", "2", "--celery-hostname",
                                      f"celery@{nodes[token]}", "--skip-serve-logs",
                                      "--without-gossip", "--without-mingle"],
                  {"PDPB_TEST_WORKER": token})  # fmt: skip
        _wait_for(lambda: _broker_answers(redis_port), "redis-server", 10, logs)
        api_health = f"http://127.0.0.1:{api_port}/execution/health"
        _wait_for(lambda: _answers(api_health), "the execution API", 60, logs)
        yield {"env": env, "root": root, "nodes": nodes, "logs": logs}
    finally:
        for child in reversed(children):
            stop_process_tree(child.pid, grace=10)


@pytest.fixture(scope="module")
def national_run(cluster):
    """One run of the probe DAG through the CeleryExecutor, as the driver reports it."""
    started = time.monotonic()
    driver = cluster["root"] / "driver.log"
    try:
        with driver.open("w") as out:
            subprocess.run(
                [sys.executable, str(cluster["root"] / "dags" / PROBE_DAG.name)],
                env=cluster["env"], cwd=cluster["root"], stdout=out, stderr=subprocess.STDOUT,
                timeout=RUN_TIMEOUT, check=False,
            )  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail(
            f"the DAG run did not end in {RUN_TIMEOUT} s\n" + _tails([*cluster["logs"], driver])
        )
    lines = [x for x in driver.read_text(errors="replace").splitlines() if x.startswith("RESULT ")]
    assert lines, "the driver printed no result\n" + _tails([*cluster["logs"], driver])
    result = json.loads(lines[-1].removeprefix("RESULT "))
    result["seconds"] = time.monotonic() - started
    result["logs"] = _tails([*cluster["logs"], driver])
    return result


def _province_tasks(run: dict, task_id: str) -> list[dict]:
    return sorted(
        (t for t in run["tasks"] if t["task_id"] == task_id), key=lambda t: t["map_index"]
    )


def test_mapped_province_tasks_run_on_celery_workers_through_the_broker(national_run):
    assert national_run["state"] == "success", national_run["logs"]
    assert all(t["state"] == "success" for t in national_run["tasks"]), national_run["tasks"]
    provinces = _province_tasks(national_run, "province_large")
    provinces += _province_tasks(national_run, "province_other")
    # One mapped task instance per province that route returned.
    assert sorted(t["value"]["kode"] for t in provinces) == ["17", "31", "32", "35", "36"]
    # Each ran in a Celery worker's process: only the workers carry the token.
    assert "PDPB_TEST_WORKER" not in os.environ
    assert all(t["value"]["worker"] in WORKERS for t in provinces), provinces
    reconcile = next(t for t in national_run["tasks"] if t["task_id"] == "reconcile")
    assert reconcile["value"] == ["17", "31", "32", "35", "36"]


def test_big_provinces_run_only_on_the_worker_of_their_queue(national_run):
    large = _province_tasks(national_run, "province_large")
    other = _province_tasks(national_run, "province_other")
    assert [t["queue"] for t in large] == [LARGE_QUEUE] * 2
    assert [t["queue"] for t in other] == ["default"] * 3
    assert {t["value"]["worker"] for t in large} == {"large"}
    assert {t["value"]["worker"] for t in other} == {"default"}


def test_compose_worker_health_check_answers_for_a_live_worker_only(cluster, national_run):
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
    kind, command = compose["services"]["airflow-worker"]["healthcheck"]["test"]
    assert kind == "CMD-SHELL"
    command = command.replace("$$", "$")  # compose's escape for a literal $

    def health_check(hostname: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["bash", "-c", command], env={**cluster["env"], "HOSTNAME": hostname},
            cwd=cluster["root"], capture_output=True, text=True, timeout=60,
        )  # fmt: skip

    alive = health_check(cluster["nodes"]["default"])
    assert alive.returncode == 0, alive.stdout + alive.stderr
    assert "pong" in alive.stdout
    assert health_check("pdpb-no-such-worker").returncode != 0
