"""Static checks of the production deployment (docker-compose.yml, Dockerfile).

Docker is not needed: the compose file is validated against the Compose
Specification's JSON schema (vendored in tests/data, see its README) and
checked for the services, settings and files the deployment relies on,
including the CeleryExecutor profile of the national deployment and its
overrides for workers on other machines (deploy/celery/). Each check of the
Celery profile is also run on broken copies of the file, so a check that
could not fail would be noticed (test_celery_checks_detect_a_broken_compose_file).
"""

from __future__ import annotations

import copy
import json
import re
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from jsonschema import Draft7Validator

REPO = Path(__file__).resolve().parent.parent
COMPOSE_FILE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
ENV_EXAMPLE = REPO / ".env.example"
DOCKERIGNORE = REPO / ".dockerignore"
COMPOSE_SCHEMA = Path(__file__).resolve().parent / "data" / "compose-spec.json"
CELERY_OVERRIDES = REPO / "deploy" / "celery"
HUB_OVERRIDE = CELERY_OVERRIDES / "hub.yml"
REMOTE_WORKER_OVERRIDE = CELERY_OVERRIDES / "remote-worker.yml"

AIRFLOW_SERVICES = {
    "airflow-init": None,
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
}
# The CeleryExecutor's services, only under the profile `celery`.
CELERY_PROFILE = "celery"
CELERY_AIRFLOW_SERVICES = {"airflow-worker": "celery worker", "flower": "celery flower"}
CELERY_SERVICES = {"redis", *CELERY_AIRFLOW_SERVICES}
# What a plain `docker compose up` starts: today's LocalExecutor deployment.
DEFAULT_SERVICES = {"postgres", *AIRFLOW_SERVICES, "nginx"}
LONG_RUNNING = ["postgres", "airflow-apiserver", "airflow-scheduler"]
LONG_RUNNING += ["airflow-dag-processor", "airflow-triggerer", "nginx"]
LONG_RUNNING += sorted(CELERY_SERVICES)
BROKER_URL = "redis://:@redis:6379/0"
WORKER_HEALTH_CHECK = (
    "celery --app airflow.providers.celery.executors.celery_executor.app"
    ' inspect ping -d "celery@$${HOSTNAME}"'
)
LARGE_PROVINCE_QUEUE = "pdpb_large"
BASE_IMAGE = "apache/airflow:3.3.2-python3.11"
POOL_COMMAND = 'airflow pools set pdpb_warehouse 1 "DuckDB has one writer"'
SECRET_NAME = re.compile(r"PASSWORD|SECRET|FERNET", re.IGNORECASE)
COMPOSE_VARIABLE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[-?][^}]*)?\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


def _overrides() -> dict[Path, dict[str, Any]]:
    return {
        p: yaml.safe_load(p.read_text(encoding="utf-8"))
        for p in (HUB_OVERRIDE, REMOTE_WORKER_OVERRIDE)
    }


@pytest.fixture(scope="module")
def dockerfile() -> list[str]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    text = DOCKERFILE.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    return [i.strip() for i in "\n".join(lines).replace("\\\n", " ").splitlines() if i.strip()]


def _instructions(dockerfile: list[str], keyword: str) -> list[list[str]]:
    return [shlex.split(i)[1:] for i in dockerfile if i.split()[0].upper() == keyword]


def _home_mount(service: dict[str, Any]) -> dict[str, Any]:
    mounts = [v for v in service.get("volumes", []) if isinstance(v, dict)]
    matching = [v for v in mounts if v.get("source") == "pdpb-home"]
    assert len(matching) == 1, "expected exactly one mount of the pdpb-home volume"
    return matching[0]


def _default(value: Any) -> str:
    """A compose value as it is when .env leaves its variables unset:
    `${VAR:-default}` becomes the default, `${VAR}` nothing; a required
    `${VAR:?...}` stays as it is."""

    def fill(match: re.Match) -> str:
        modifier = match.group(2) or ""
        if modifier.startswith((":-", "-")):
            return modifier.split("-", 1)[1]
        return match.group(0) if modifier.startswith((":?", "?")) else ""

    return COMPOSE_VARIABLE.sub(fill, str(value))


def _variables(value: Any) -> list[str]:
    return [m.group(1) for m in COMPOSE_VARIABLE.finditer(str(value))]


def _host(url: str) -> str | None:
    """The host of a URL in the compose file, its variables blanked out."""
    return urlsplit(COMPOSE_VARIABLE.sub("x", url)).hostname


def _env_example() -> dict[str, str]:
    pairs = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            pairs[name.strip()] = value.strip()
    return pairs


def test_compose_file_is_valid_against_the_compose_specification(compose):
    if not COMPOSE_SCHEMA.exists():
        pytest.skip(f"vendored Compose schema {COMPOSE_SCHEMA} is missing")
    schema = json.loads(COMPOSE_SCHEMA.read_text(encoding="utf-8"))
    errors = sorted(Draft7Validator(schema).iter_errors(compose), key=lambda e: e.json_path)
    assert not errors, "\n".join(f"{e.json_path}: {e.message}" for e in errors)


def test_compose_runs_the_official_airflow_3_services(compose):
    services = compose["services"]
    for name, command in AIRFLOW_SERVICES.items():
        assert name in services, f"service {name} is missing"
        if command:
            assert services[name]["command"] == command
    assert "postgres" in services and "nginx" in services
    env = services["airflow-scheduler"]["environment"]
    assert _default(env["AIRFLOW__CORE__EXECUTOR"]) == "LocalExecutor"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].startswith("http://airflow-apiserver:")


def test_every_long_running_service_has_a_health_check(compose):
    for name in LONG_RUNNING:
        test = compose["services"][name].get("healthcheck", {}).get("test")
        assert test and test[0] in {"CMD", "CMD-SHELL"}, f"{name} has no health check"
    # The scheduler's health server answers only when it is switched on.
    env = compose["services"]["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK"] == "true"


def test_airflow_services_wait_for_the_database_and_the_init_job(compose):
    for name in [*AIRFLOW_SERVICES, *CELERY_AIRFLOW_SERVICES]:
        depends = compose["services"][name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy"
        if name != "airflow-init":
            assert depends["airflow-init"]["condition"] == "service_completed_successfully"


def test_airflow_services_are_built_from_the_project_dockerfile(compose):
    images = set()
    for name in [*AIRFLOW_SERVICES, *CELERY_AIRFLOW_SERVICES]:
        service = compose["services"][name]
        build = service["build"]
        assert (REPO / build["context"]).resolve() == REPO
        assert (REPO / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE
        images.add(service["image"])
    assert len(images) == 1, f"Airflow services use different images: {images}"


def test_pipeline_home_is_one_volume_at_pdpb_home_in_every_service(compose):
    assert "pdpb-home" in compose["volumes"]
    homes = set()
    for name in [*AIRFLOW_SERVICES, *CELERY_AIRFLOW_SERVICES]:
        service = compose["services"][name]
        target = _home_mount(service)["target"]
        assert service["environment"]["PDPB_HOME"] == target
        homes.add(target)
    homes.add(_home_mount(compose["services"]["nginx"])["target"])
    assert len(homes) == 1, f"the home is mounted at different paths: {homes}"


def test_airflow_reads_the_repository_dags_and_no_examples(compose, dockerfile):
    env = compose["services"]["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "false"
    # The DAGs folder is the repository's dags/ as copied into the image.
    workdir = _instructions(dockerfile, "WORKDIR")[-1][0]
    copies = [args for args in _instructions(dockerfile, "COPY") if args[0].startswith("--chown")]
    dags_targets = [args[-1] for args in copies if args[1:-1] == ["dags/"]]
    assert dags_targets, "the Dockerfile does not copy dags/"
    dags_in_image = (Path(workdir) / dags_targets[0]).as_posix().rstrip("/")
    assert env["AIRFLOW__CORE__DAGS_FOLDER"].rstrip("/") == dags_in_image


def test_init_job_creates_the_one_slot_warehouse_pool(compose):
    init = compose["services"]["airflow-init"]
    script = "\n".join(init["command"])
    assert POOL_COMMAND in script
    assert init["environment"]["_AIRFLOW_DB_MIGRATE"] == "true"


def test_nginx_serves_reports_and_datadocs_read_only_on_a_port(compose):
    nginx = compose["services"]["nginx"]
    home_mount = _home_mount(nginx)
    assert home_mount["read_only"] is True
    assert nginx["ports"], "nginx publishes no port"
    config_mounts = [
        v for v in nginx["volumes"] if isinstance(v, dict) and v["target"].startswith("/etc/nginx/")
    ]
    assert len(config_mounts) == 1 and config_mounts[0]["read_only"] is True
    config = (REPO / config_mounts[0]["source"]).read_text(encoding="utf-8")
    home = home_mount["target"].rstrip("/")
    for folder in ("reports", "datadocs"):
        assert re.search(rf"alias\s+{re.escape(home)}/{folder}/;", config), folder


def test_secrets_come_only_from_required_variables(compose):
    for name, service in compose["services"].items():
        env = service.get("environment") or {}
        for key, value in env.items():
            if SECRET_NAME.search(key):
                assert re.fullmatch(r"\$\{[A-Z0-9_]+:\?[^}]+\}", str(value)), (
                    f"{name}: {key} must come from a required variable (${{VAR:?...}})"
                )
    conn = compose["services"]["airflow-scheduler"]["environment"][
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"
    ]
    assert re.search(r"://airflow:\$\{POSTGRES_PASSWORD:\?[^}]+\}@", conn)
    # A password inside a URL (database, result backend, broker) is a required
    # variable too, or empty (the broker is reachable only by the services).
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            credentials = re.search(r"://([^/@]*)@", str(value))
            if credentials:
                password = credentials.group(1).partition(":")[2]
                assert password == "" or re.fullmatch(r"\$\{[A-Z0-9_]+:\?[^}]+\}", password), (
                    f"{name}: {key} has a password that is not a required variable"
                )


def test_env_example_documents_every_variable_with_empty_secrets():
    text = "\n".join(
        p.read_text(encoding="utf-8") for p in (COMPOSE_FILE, HUB_OVERRIDE, REMOTE_WORKER_OVERRIDE)
    )
    used = {m.group(1): m.group(2) or "" for m in COMPOSE_VARIABLE.finditer(text)}
    example = _env_example()
    assert set(used) <= set(example), f"not in .env.example: {set(used) - set(example)}"
    for name, modifier in used.items():
        if modifier.startswith(":?"):
            assert example[name] == "", f".env.example must leave {name} empty"


def test_files_the_deployment_references_exist(compose, dockerfile):
    referenced = {"Dockerfile", ".env.example", ".dockerignore"}
    for service in compose["services"].values():
        build = service.get("build")
        if build:
            referenced.add(build["context"])
            referenced.add(str(Path(build["context"]) / build["dockerfile"]))
        for mount in service.get("volumes", []):
            if isinstance(mount, dict) and mount["type"] == "bind":
                referenced.add(mount["source"])
    for args in _instructions(dockerfile, "COPY"):
        sources = [a for a in args if not a.startswith("--")][:-1]
        referenced.update(sources)
    missing = sorted(r for r in referenced if not (REPO / r).exists())
    assert not missing, f"referenced but missing in the repository: {missing}"


def test_dockerfile_pins_the_airflow_base_image_of_the_constraints(dockerfile):
    froms = _instructions(dockerfile, "FROM")
    assert [args[0] for args in froms] == [BASE_IMAGE]
    constraints = (REPO / "constraints.txt").read_text(encoding="utf-8")
    airflow_pin = re.search(r"^apache-airflow==(\S+)$", constraints, re.MULTILINE)
    assert airflow_pin and BASE_IMAGE.startswith(f"apache/airflow:{airflow_pin.group(1)}-")


def test_dockerfile_installs_the_project_with_the_constraints_as_airflow(dockerfile):
    users = _instructions(dockerfile, "USER")
    assert users and users[-1] == ["airflow"]
    installs = [
        " ".join(args)
        for args in _instructions(dockerfile, "RUN")
        if "pip" in args and "install" in args
    ]
    assert len(installs) == 1
    # The celery extra: the image also serves the CeleryExecutor profile.
    assert re.search(
        r"pip install --no-cache-dir -c constraints\.txt (-e )?\.\[celery\](\s|$)", installs[0]
    )
    # The install runs after the airflow user is back, not as root.
    last_user = max(i for i, line in enumerate(dockerfile) if line.upper().startswith("USER"))
    install_line = next(i for i, line in enumerate(dockerfile) if "pip install" in line)
    assert install_line > last_user


def test_docker_build_context_leaves_out_secrets_and_local_state():
    ignored = {
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".env", ".venv", "var/", ".git"} <= ignored


# --- The CeleryExecutor profile (national deployment) ---------------------------
# Each check takes the parsed compose file and fails with AssertionError; the
# tests run them on the real file, test_celery_checks_detect_a_broken_compose_file
# on broken copies.


def _check_celery_services_only_under_the_profile(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in CELERY_SERVICES:
        assert name in services, f"service {name} is missing"
        assert services[name].get("profiles") == [CELERY_PROFILE], f"{name} is not in the profile"
    started_by_default = {name for name, s in services.items() if not s.get("profiles")}
    assert started_by_default == DEFAULT_SERVICES, (
        f"`docker compose up` would start {sorted(started_by_default ^ DEFAULT_SERVICES)} "
        "differently from the LocalExecutor deployment"
    )


def _check_default_services_start_without_the_profile(compose: dict[str, Any]) -> None:
    # Compose refuses to start a service that requires a disabled one.
    services = compose["services"]
    for name, service in services.items():
        if service.get("profiles"):
            continue
        for dependency, spec in (service.get("depends_on") or {}).items():
            if services[dependency].get("profiles"):
                assert spec.get("required") is False, f"{name} requires {dependency}"


def _check_executor_is_local_unless_a_variable_says_celery(compose: dict[str, Any]) -> None:
    for name in [*AIRFLOW_SERVICES, *CELERY_AIRFLOW_SERVICES]:
        value = compose["services"][name]["environment"]["AIRFLOW__CORE__EXECUTOR"]
        assert _default(value) == "LocalExecutor", f"{name}: executor {value}"
        assert _variables(value) == ["AIRFLOW_EXECUTOR"], f"{name}: .env cannot switch {value}"


def _check_celery_services_share_the_airflow_environment(compose: dict[str, Any]) -> None:
    services = compose["services"]
    scheduler = services["airflow-scheduler"]
    for name in CELERY_AIRFLOW_SERVICES:
        service = services[name]
        env = service["environment"]
        for key, value in scheduler["environment"].items():
            assert env.get(key) == value, f"{name}: {key} differs from the other services"
        for field in ("image", "build", "user", "volumes"):
            assert service[field] == scheduler[field], f"{name}: {field} differs"
        # The home at the same path as everywhere else, and PDPB_HOME naming it.
        assert (
            _home_mount(service)["target"] == _home_mount(scheduler)["target"] == env["PDPB_HOME"]
        )


def _check_broker_and_result_backend(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in [*AIRFLOW_SERVICES, *CELERY_AIRFLOW_SERVICES]:
        env = services[name]["environment"]
        assert env["AIRFLOW__CELERY__BROKER_URL"] == BROKER_URL, name
        backend = env["AIRFLOW__CELERY__RESULT_BACKEND"]
        assert re.fullmatch(
            r"db\+postgresql://airflow:\$\{POSTGRES_PASSWORD:\?[^}]+\}@postgres/airflow", backend
        ), name
        # The result backend is the metadata database itself.
        metadata = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        assert backend.partition("@")[2] == metadata.partition("@")[2], name
    broker = services[_host(BROKER_URL)]
    assert broker["profiles"] == [CELERY_PROFILE]
    assert broker["image"].startswith("redis:")
    assert str(urlsplit(BROKER_URL).port) in {str(p) for p in broker.get("expose", [])}


def _check_worker(compose: dict[str, Any]) -> None:
    worker = compose["services"]["airflow-worker"]
    command = worker["command"]
    assert command[:2] == ["celery", "worker"], command
    queues = _default(command[command.index("--queues") + 1]).split(",")
    assert {"default", LARGE_PROVINCE_QUEUE} <= set(queues), queues
    assert worker["healthcheck"]["test"] == ["CMD-SHELL", WORKER_HEALTH_CHECK]
    env = worker["environment"]
    assert env.get("DUMB_INIT_SETSID") == "0", "Celery's warm shutdown needs DUMB_INIT_SETSID=0"
    # One province period at a time unless .env says otherwise.
    assert _default(env["AIRFLOW__CELERY__WORKER_CONCURRENCY"]) == "1"
    assert _variables(env["AIRFLOW__CELERY__WORKER_CONCURRENCY"]) == ["AIRFLOW_WORKER_CONCURRENCY"]
    assert worker["depends_on"]["airflow-apiserver"]["condition"] == "service_healthy"


def _check_flower(compose: dict[str, Any]) -> None:
    flower = compose["services"]["flower"]
    assert flower["command"] == CELERY_AIRFLOW_SERVICES["flower"]
    ports = [_default(p) for p in flower["ports"]]
    # No login of its own: localhost unless .env says otherwise.
    assert ports == ["127.0.0.1:5555:5555"], ports


def _check_init_refuses_celery_without_the_broker(compose: dict[str, Any]) -> None:
    script = "\n".join(compose["services"]["airflow-init"]["command"])
    broker = urlsplit(BROKER_URL)
    assert '"$${AIRFLOW__CORE__EXECUTOR}" = CeleryExecutor' in script
    assert f"/dev/tcp/{broker.hostname}/{broker.port}" in script
    assert "COMPOSE_PROFILES=celery" in script
    assert "exit 1" in script


def _check_remote_worker_reaches_the_hub(
    compose: dict[str, Any], override: dict[str, Any], hub: dict[str, Any]
) -> None:
    assert set(override["services"]) == {"airflow-worker"}
    worker = override["services"]["airflow-worker"]
    env = {**compose["services"]["airflow-worker"]["environment"], **worker.get("environment", {})}
    urls = ["AIRFLOW__CELERY__BROKER_URL", "AIRFLOW__CELERY__RESULT_BACKEND"]
    urls += ["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"]
    needed = {_host(env[key]) for key in urls}
    mapped = {}
    for entry in worker["extra_hosts"]:
        host, _, address = entry.partition(":")
        assert _variables(address) == ["PDPB_HUB_ADDRESS"] and ":?" in address, entry
        mapped[host] = address
    assert set(mapped) == needed, f"remote worker maps {sorted(mapped)}, needs {sorted(needed)}"
    # The execution API as the hub publishes it.
    api_ports = compose["services"]["airflow-apiserver"]["ports"]
    published = {_default(p).split(":")[0] for p in api_ports}
    assert str(urlsplit(_default(env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])).port) in published
    # The hub publishes the broker and the result backend on its address.
    for url_key in ("AIRFLOW__CELERY__BROKER_URL", "AIRFLOW__CELERY__RESULT_BACKEND"):
        service = _host(env[url_key])
        port = urlsplit(COMPOSE_VARIABLE.sub("x", env[url_key])).port or 5432
        ports = hub["services"].get(service, {}).get("ports", [])
        assert any(
            _variables(p) == ["PDPB_HUB_ADDRESS"] and p.endswith(f":{port}:{port}") for p in ports
        ), f"the hub does not publish {service}:{port}"


CELERY_CHECKS: dict[str, Callable[[dict[str, Any]], None]] = {
    "services only under the profile": _check_celery_services_only_under_the_profile,
    "default services start without it": _check_default_services_start_without_the_profile,
    "executor": _check_executor_is_local_unless_a_variable_says_celery,
    "shared environment and home": _check_celery_services_share_the_airflow_environment,
    "broker and result backend": _check_broker_and_result_backend,
    "worker": _check_worker,
    "flower": _check_flower,
    "init guard": _check_init_refuses_celery_without_the_broker,
}


def test_celery_services_exist_only_under_the_celery_profile(compose):
    _check_celery_services_only_under_the_profile(compose)
    _check_default_services_start_without_the_profile(compose)


def test_executor_is_local_executor_unless_env_says_celery(compose):
    _check_executor_is_local_unless_a_variable_says_celery(compose)


def test_celery_services_share_the_airflow_environment_and_the_home(compose):
    _check_celery_services_share_the_airflow_environment(compose)


def test_broker_is_redis_and_the_result_backend_the_metadata_database(compose):
    _check_broker_and_result_backend(compose)


def test_worker_runs_celery_with_the_official_health_check(compose):
    _check_worker(compose)


def test_flower_monitors_celery_on_port_5555_of_localhost(compose):
    _check_flower(compose)


def test_init_refuses_celery_executor_without_the_broker(compose):
    _check_init_refuses_celery_without_the_broker(compose)


def test_celery_overrides_are_valid_compose_files():
    if not COMPOSE_SCHEMA.exists():
        pytest.skip(f"vendored Compose schema {COMPOSE_SCHEMA} is missing")
    validator = Draft7Validator(json.loads(COMPOSE_SCHEMA.read_text(encoding="utf-8")))
    for path, override in _overrides().items():
        errors = [f"{e.json_path}: {e.message}" for e in validator.iter_errors(override)]
        assert not errors, f"{path.name}: {errors}"


def test_remote_worker_reaches_the_broker_backend_and_api_on_the_hub(compose):
    overrides = _overrides()
    _check_remote_worker_reaches_the_hub(
        compose, overrides[REMOTE_WORKER_OVERRIDE], overrides[HUB_OVERRIDE]
    )


def test_shared_storage_for_the_home_and_logs_is_shown_on_the_volumes():
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    volumes = text[text.index("\nvolumes:") :]
    for volume in ("pdpb-home", "airflow-logs"):
        block = volumes[volumes.index(f"\n  {volume}:") :].split("\n")[1:6]
        example = "\n".join(block)
        assert re.search(r"#\s+driver_opts:", example), f"{volume}: no shared-storage example"
        assert re.search(r"#\s+type: nfs", example), f"{volume}: no NFS example"


def test_env_example_shows_how_to_switch_to_celery():
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    example = _env_example()
    assert example["COMPOSE_PROFILES"] == "" and example["AIRFLOW_EXECUTOR"] == "LocalExecutor"
    assert re.search(r"^#\s*COMPOSE_PROFILES=celery\b", text, re.MULTILINE)
    assert re.search(r"^#\s*AIRFLOW_EXECUTOR=CeleryExecutor\b", text, re.MULTILINE)
    assert example["AIRFLOW_WORKER_CONCURRENCY"] == "1"
    assert LARGE_PROVINCE_QUEUE in example["AIRFLOW_WORKER_QUEUES"].split(",")


def _service(path: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda compose: compose["services"][path]


def _set(target: Callable[[dict[str, Any]], dict[str, Any]], key: str, value: Any):
    def mutate(compose: dict[str, Any]) -> None:
        target(compose)[key] = value

    return mutate


def _drop(target: Callable[[dict[str, Any]], dict[str, Any]], key: str):
    return lambda compose: target(compose).pop(key)


def _worker_env(compose):
    return compose["services"]["airflow-worker"]["environment"]


def _scheduler_env(compose):
    return compose["services"]["airflow-scheduler"]["environment"]


def _move_home(compose):
    worker = compose["services"]["airflow-worker"]
    worker["volumes"] = [
        {**v, "target": "/srv/pdpb"} if v.get("source") == "pdpb-home" else v
        for v in worker["volumes"]
    ]


def _require_redis(compose):
    scheduler = compose["services"]["airflow-scheduler"]
    scheduler["depends_on"] = {**scheduler["depends_on"], "redis": {"condition": "service_healthy"}}


BROKEN = {
    "redis outside the profile": (
        _drop(_service("redis"), "profiles"),
        "services only under the profile",
    ),
    "worker started by default": (
        _set(_service("airflow-worker"), "profiles", []),
        "services only under the profile",
    ),
    "flower missing": (lambda c: c["services"].pop("flower"), "services only under the profile"),
    "scheduler requires redis": (_require_redis, "default services start without it"),
    "executor fixed to Celery": (
        _set(_scheduler_env, "AIRFLOW__CORE__EXECUTOR", "CeleryExecutor"),
        "executor",
    ),
    "executor fixed to Local": (
        _set(_scheduler_env, "AIRFLOW__CORE__EXECUTOR", "LocalExecutor"),
        "executor",
    ),
    "worker without PDPB_HOME": (_drop(_worker_env, "PDPB_HOME"), "shared environment and home"),
    "worker home elsewhere": (_move_home, "shared environment and home"),
    "broker on another host": (
        _set(_worker_env, "AIRFLOW__CELERY__BROKER_URL", "redis://:@broker:6379/0"),
        "broker and result backend",
    ),
    "result backend password in clear": (
        _set(
            _worker_env,
            "AIRFLOW__CELERY__RESULT_BACKEND",
            "db+postgresql://airflow:airflow@postgres/airflow",
        ),
        "broker and result backend",
    ),
    "health check of another app": (
        _set(
            _service("airflow-worker"),
            "healthcheck",
            {"test": ["CMD-SHELL", "celery inspect ping"]},
        ),
        "worker",
    ),
    "no warm shutdown": (_drop(_worker_env, "DUMB_INIT_SETSID"), "worker"),
    "sixteen provinces per worker": (
        _set(
            _worker_env, "AIRFLOW__CELERY__WORKER_CONCURRENCY", "${AIRFLOW_WORKER_CONCURRENCY:-16}"
        ),
        "worker",
    ),
    "large provinces served by no worker": (
        _set(_service("airflow-worker"), "command", ["celery", "worker", "--queues", "default"]),
        "worker",
    ),
    "flower open to the network": (_set(_service("flower"), "ports", ["5555:5555"]), "flower"),
    "flower on another port": (
        _set(_service("flower"), "ports", ["127.0.0.1:5556:5556"]),
        "flower",
    ),
    "init without the broker check": (
        lambda c: c["services"]["airflow-init"].__setitem__("command", ["-c", "airflow version"]),
        "init guard",
    ),
}


@pytest.mark.parametrize("breakage", sorted(BROKEN))
def test_celery_checks_detect_a_broken_compose_file(compose, breakage):
    mutate, check = BROKEN[breakage]
    broken = copy.deepcopy(compose)
    mutate(broken)
    with pytest.raises(AssertionError):
        CELERY_CHECKS[check](broken)


def test_remote_worker_check_detects_a_missing_host(compose):
    overrides = _overrides()
    remote = copy.deepcopy(overrides[REMOTE_WORKER_OVERRIDE])
    remote["services"]["airflow-worker"]["extra_hosts"].pop()
    with pytest.raises(AssertionError):
        _check_remote_worker_reaches_the_hub(compose, remote, overrides[HUB_OVERRIDE])
    hub = copy.deepcopy(overrides[HUB_OVERRIDE])
    hub["services"].pop("postgres")
    with pytest.raises(AssertionError):
        _check_remote_worker_reaches_the_hub(compose, overrides[REMOTE_WORKER_OVERRIDE], hub)
