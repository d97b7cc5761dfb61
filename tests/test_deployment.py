"""Static checks of the production deployment (docker-compose.yml, Dockerfile).

Docker is not needed: the compose file is validated against the Compose
Specification's JSON schema (vendored in tests/data, see its README) and
checked for the services, settings and files the deployment relies on.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator

REPO = Path(__file__).resolve().parent.parent
COMPOSE_FILE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
ENV_EXAMPLE = REPO / ".env.example"
DOCKERIGNORE = REPO / ".dockerignore"
COMPOSE_SCHEMA = Path(__file__).resolve().parent / "data" / "compose-spec.json"

AIRFLOW_SERVICES = {
    "airflow-init": None,
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
}
LONG_RUNNING = ["postgres", "airflow-apiserver", "airflow-scheduler"]
LONG_RUNNING += ["airflow-dag-processor", "airflow-triggerer", "nginx"]
BASE_IMAGE = "apache/airflow:3.3.2-python3.11"
POOL_COMMAND = 'airflow pools set pdpb_warehouse 1 "DuckDB has one writer"'
SECRET_NAME = re.compile(r"PASSWORD|SECRET|FERNET", re.IGNORECASE)
COMPOSE_VARIABLE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[-?][^}]*)?\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


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
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
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
    for name in AIRFLOW_SERVICES:
        depends = compose["services"][name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy"
        if name != "airflow-init":
            assert depends["airflow-init"]["condition"] == "service_completed_successfully"


def test_airflow_services_are_built_from_the_project_dockerfile(compose):
    images = set()
    for name in AIRFLOW_SERVICES:
        service = compose["services"][name]
        build = service["build"]
        assert (REPO / build["context"]).resolve() == REPO
        assert (REPO / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE
        images.add(service["image"])
    assert len(images) == 1, f"Airflow services use different images: {images}"


def test_pipeline_home_is_one_volume_at_pdpb_home_in_every_service(compose):
    assert "pdpb-home" in compose["volumes"]
    homes = set()
    for name in AIRFLOW_SERVICES:
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


def test_env_example_documents_every_variable_with_empty_secrets():
    text = COMPOSE_FILE.read_text(encoding="utf-8")
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
