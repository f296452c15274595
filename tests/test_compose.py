"""docker-compose.yml, the Dockerfiles, .dockerignore and .env.example, checked without Docker.

No Docker engine runs on the development and CI machines, so these tests check statically what a
user would otherwise find out at `docker compose up`: the compose file against the official
compose-spec schema, the images installing the right workspace member, scaling, health-gated
start order, secrets, and every setting documented in .env.example and reaching its service.
Where Debian's docker-compose (1.29) is installed, `docker-compose config` checks the file too.
The monitoring profile's Prometheus config is checked with promtool where it can be installed,
and the Grafana dashboard's queries against the metric names the services really export.
"""

from __future__ import annotations

import fnmatch
import importlib
import json
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft201909Validator, ValidationError

from shared.observability import Metrics
from shared.settings import Settings

from deliver.settings import DeliverSettings
from enrich.settings import EnrichSettings
from ingest.settings import IngestSettings
from publish.settings import PublishSettings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERIGNORE = ROOT / ".dockerignore"
SCHEMA_FILE = Path(__file__).parent / "fixtures" / "compose-spec.json"
MONITORING = ROOT / "monitoring"
PROMETHEUS_CONFIG = MONITORING / "prometheus" / "prometheus.yml"
GRAFANA = MONITORING / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "newsflow.json"
# Every service that exports metrics; deliver sends the webhooks (same port convention).
SCRAPED = ("ingest", "enrich", "publish", "deliver")
# Modules holding metrics classes built on a service's shared.observability.Metrics.
METRICS_MODULES = ("publish.metrics", "deliver.metrics", "ingest.metrics", "enrich.metrics")

SETTINGS: dict[str, type[Settings]] = {
    "ingest": IngestSettings,
    "enrich": EnrichSettings,
    "publish": PublishSettings,
    "deliver": DeliverSettings,
}
APP_SERVICES = tuple(SETTINGS)
REQUIRED_SECRETS = ("REDIS_PASSWORD", "MONGO_PASSWORD", "NEWSFLOW_INGEST_KEYS",
                    "NEWSFLOW_ADMIN_KEY")
# Set by the images (the container port) or only meaningful for tests: compose must not pass them.
NOT_PASSED_BY_COMPOSE = {"http_host", "http_port", "stream_prefix"}
CONTAINER_PORT = 8000
UVICORN_GRACEFUL_S = 10  # timeout_graceful_shutdown in each service's __main__.py
DUMMY_ENV = {
    "REDIS_PASSWORD": "redispw0123",
    "MONGO_PASSWORD": "mongopw0123",
    "NEWSFLOW_INGEST_KEYS": '{"dpa": "' + "ab" * 32 + '"}',
    "NEWSFLOW_ADMIN_KEY": "adminkey0123",
}

_VAR_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)((?::?[-?])([^}]*))?\}")
_ENV_LINE = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=(.*)$")


# ---- helpers ---------------------------------------------------------------------------------

def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def services() -> dict[str, Any]:
    return compose()["services"]


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's ${VAR}, ${VAR:-default}, ${VAR:?error} and $$, applied to every string."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2) or "", match.group(3) or ""
        current = env.get(name)
        if op.startswith(":?") and not current:
            raise LookupError(f"{name}: {arg}")
        if op.startswith(":-") and not current:
            return arg
        return current or ""

    return _VAR_REF.sub(substitute, value.replace("$$", "\0")).replace("\0", "$")


def container_env(service: str, env: dict[str, str]) -> dict[str, str]:
    """What the service's process sees: the image's ENV, then compose's environment, where a
    variable listed without a value is passed through only when set in `env`."""
    result = dockerfile_env(dockerfile_of(service))
    for key, value in interpolate(services()[service].get("environment", {}), env).items():
        if value is None:
            if key in env:
                result[key] = env[key]
        else:
            result[key] = str(value)
    return result


def dockerfile_of(service: str) -> Path:
    build = services()[service]["build"]
    return ROOT / build["context"] / build["dockerfile"]


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, args = line.partition(" ")
        instructions.append((keyword.upper(), args.strip()))
    return instructions


def dockerfile_env(path: Path) -> dict[str, str]:
    """ENV of the final stage (the instructions after the last FROM)."""
    instructions = dockerfile_instructions(path)
    last_from = max(i for i, (kw, _) in enumerate(instructions) if kw == "FROM")
    env: dict[str, str] = {}
    for keyword, args in instructions[last_from:]:
        if keyword == "ENV":
            env.update(dict(re.findall(r"(\w+)=(\S+)", args)))
    return env


def workspace_members() -> list[str]:
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return root["tool"]["uv"]["workspace"]["members"]


def member_dir_of(package: str) -> str:
    for member in workspace_members():
        if tomllib.loads((ROOT / member / "pyproject.toml").read_text())["project"]["name"] \
                == package:
            return member
    raise LookupError(package)


def workspace_closure(package: str) -> set[str]:
    """The workspace members `uv sync --package <package>` installs: it and its member deps."""
    names = {
        tomllib.loads((ROOT / m / "pyproject.toml").read_text())["project"]["name"]: m
        for m in workspace_members()
    }
    found: set[str] = set()
    todo = [package]
    while todo:
        name = todo.pop()
        if name in found:
            continue
        found.add(name)
        project = tomllib.loads((ROOT / names[name] / "pyproject.toml").read_text())["project"]
        for dep in project.get("dependencies", []):
            dep_name = re.split(r"[\s\[<>=!~;@]", dep, maxsplit=1)[0]
            if dep_name in names:
                todo.append(dep_name)
    return {names[n] for n in found}


def env_example() -> dict[str, str]:
    """Variables documented in .env.example (commented-out defaults included) -> value."""
    found: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = _ENV_LINE.match(line)
        if match:
            found[match.group(1)] = match.group(2)
    return found


def compose_variable_names() -> set[str]:
    """Every variable compose interpolates, and every NEWSFLOW_ one it hands to a container."""
    names = {m.group(1) for m in _VAR_REF.finditer(COMPOSE_FILE.read_text())}
    for service in services().values():
        names.update(k for k in service.get("environment", {}) if k.startswith("NEWSFLOW_"))
    return names


def settings_variables(cls: type[Settings]) -> set[str]:
    return {f"NEWSFLOW_{name.upper()}" for name in cls.model_fields}


def seconds(duration: str) -> float:
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", duration)
    assert parts and "".join(a + u for a, u in parts) == duration, duration
    return sum(float(amount) * units[unit] for amount, unit in parts)


def dockerignore_excludes(path: str) -> bool:
    """Whether .dockerignore keeps `path` (relative, '/'-separated) out of the build context."""
    excluded = False
    for raw in DOCKERIGNORE.read_text().splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        candidates = [pattern, pattern.removeprefix("**/")] if pattern.startswith("**/") \
            else [pattern]
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        for candidate in candidates:
            anywhere = candidate != pattern  # "**/x" matches x at any depth
            for prefix in prefixes:
                target = prefix.rsplit("/", 1)[-1] if anywhere else prefix
                if fnmatch.fnmatchcase(target, candidate):
                    excluded = not negate
    return excluded


# ---- the compose file against the compose specification ----------------------------------

def schema_validator() -> Draft201909Validator:
    if not SCHEMA_FILE.exists():
        pytest.skip(f"{SCHEMA_FILE} (the compose-spec JSON schema) is absent")
    schema = json.loads(SCHEMA_FILE.read_text())
    Draft201909Validator.check_schema(schema)
    return Draft201909Validator(schema)


def spec_errors(document: dict[str, Any]) -> list[str]:
    validator = schema_validator()
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in validator.iter_errors(document)]
    # The spec's per-service constraint (build or image; build needs a context) is kept apart
    # in the schema and applied by compose to each service.
    constraint = {**validator.schema["definitions"]["constraints"]["service"],
                  "definitions": validator.schema["definitions"]}
    for name, service in document.get("services", {}).items():
        try:
            Draft201909Validator(constraint).validate(service)
        except ValidationError as exc:
            errors.append(f"services/{name}: {exc.message}")
    return errors


def test_compose_file_follows_the_compose_specification() -> None:
    document = compose()
    assert spec_errors(document) == []
    assert "version" not in document  # obsolete; compose warns about it


def test_compose_specification_check_catches_a_misspelt_key() -> None:
    document = compose()
    document["services"]["enrich"]["restrat"] = "always"
    document["services"]["ingest"]["depends_on"]["redis"]["condition"] = "service_up"
    errors = "\n".join(spec_errors(document))
    assert "services/enrich" in errors and "restrat" in errors
    assert "services/ingest/depends_on" in errors


# ---- images ------------------------------------------------------------------------------

@pytest.mark.parametrize("service", APP_SERVICES)
def test_each_service_builds_its_own_dockerfile_from_the_repo_root(service: str) -> None:
    build = services()[service]["build"]
    assert build["context"] == "."
    assert build["dockerfile"] == f"services/{service}/Dockerfile"
    assert dockerfile_of(service).is_file()


@pytest.mark.parametrize("service", APP_SERVICES)
def test_image_installs_only_its_own_member_dependencies_first(service: str) -> None:
    instructions = dockerfile_instructions(dockerfile_of(service))
    syncs = [args for kw, args in instructions if kw == "RUN" and "uv sync" in args]
    assert len(syncs) == 2, syncs
    deps, full = syncs
    for args in syncs:
        assert f"--package newsflow-{service}" in args
        assert "--frozen" in args and "--no-dev" in args
        assert "--mount=type=cache" in args
    assert "--no-install-workspace" in deps
    assert "--no-install-workspace" not in full

    copies = [(i, args.split()) for i, (kw, args) in enumerate(instructions) if kw == "COPY"
              and not args.startswith("--from")]
    deps_at = next(i for i, (kw, args) in enumerate(instructions) if args == deps)
    full_at = next(i for i, (kw, args) in enumerate(instructions) if args == full)
    before_deps = {src for i, args in copies if i < deps_at for src in args[:-1]}
    sources = {src.rstrip("/") for i, args in copies if deps_at < i < full_at
               for src in args[:-1]}
    # The dependency layer sees only the lock and the pyproject files (uv needs every member's).
    assert before_deps == {"uv.lock", "pyproject.toml"} | {
        f"{m}/pyproject.toml" for m in workspace_members()}
    # The source layer holds exactly the members this package installs.
    assert sources == workspace_closure(f"newsflow-{service}")
    assert member_dir_of(f"newsflow-{service}") in sources


@pytest.mark.parametrize("service", APP_SERVICES)
def test_image_runs_the_service_as_non_root_on_port_8000(service: str) -> None:
    instructions = dockerfile_instructions(dockerfile_of(service))
    final = instructions[max(i for i, (kw, _) in enumerate(instructions) if kw == "FROM"):]
    keywords = dict(final)
    assert json.loads(keywords["CMD"]) == ["python", "-m", service]
    assert keywords["EXPOSE"] == str(CONTAINER_PORT)
    user = keywords["USER"].split(":")[0]
    assert user not in ("root", "0")
    assert "/healthz" in keywords["HEALTHCHECK"] and "urllib" in keywords["HEALTHCHECK"]
    assert ("COPY", "--from=builder /app/.venv /app/.venv") in final
    env = dockerfile_env(dockerfile_of(service))
    assert env["NEWSFLOW_HTTP_PORT"] == str(CONTAINER_PORT)
    assert env["NEWSFLOW_HTTP_HOST"] == "0.0.0.0"
    assert env["PATH"].startswith("/app/.venv/bin:")


def test_every_file_the_dockerfiles_copy_is_in_the_build_context() -> None:
    dockerfiles = [dockerfile_of(s) for s in (*APP_SERVICES, "test")]
    for dockerfile in dockerfiles:
        for keyword, args in dockerfile_instructions(dockerfile):
            if keyword != "COPY" or args.startswith("--from"):
                continue
            for src in [a for a in args.split() if not a.startswith("--")][:-1]:
                if src == ".":
                    continue
                assert (ROOT / src).exists(), f"{dockerfile}: COPY {src}: no such file"
                assert not dockerignore_excludes(src.rstrip("/")), \
                    f"{dockerfile}: COPY {src}: excluded by .dockerignore"


def test_dockerignore_keeps_secrets_and_local_state_out_of_images() -> None:
    for path in (".env", ".git", ".venv", ".newsflow", "shared/src/shared/__pycache__",
                 ".pytest_cache", "tests/.hypothesis", "nx.db"):
        assert dockerignore_excludes(path), path
    for path in (".env.example", "uv.lock", "shared/src/shared/settings.py", "tests/conftest.py"):
        assert not dockerignore_excludes(path), path


# ---- services: scaling, start order, health, restarts --------------------------------------

def test_enrich_scales_without_clashing_names_or_ports() -> None:
    enrich = services()["enrich"]
    assert "container_name" not in enrich
    assert "ports" not in enrich
    assert all("container_name" not in s for s in services().values())


def test_deliver_scales_with_a_port_docker_picks_on_loopback() -> None:
    deliver = services()["deliver"]
    assert "container_name" not in deliver
    assert deliver["ports"] == [f"127.0.0.1::{CONTAINER_PORT}"]  # no fixed host port


def test_ingest_and_publish_are_published_on_their_usual_host_ports() -> None:
    assert services()["ingest"]["ports"] == [f"8001:{CONTAINER_PORT}"]
    assert services()["publish"]["ports"] == [f"8003:{CONTAINER_PORT}"]
    assert "ports" not in services()["redis"] and "ports" not in services()["mongo"]


@pytest.mark.parametrize(("service", "needs"), [
    ("ingest", {"redis"}), ("enrich", {"redis"}), ("publish", {"redis", "mongo"}),
    ("deliver", {"redis", "mongo"}), ("test", {"redis", "mongo"}),
])
def test_services_start_only_once_their_databases_are_healthy(service: str,
                                                              needs: set[str]) -> None:
    depends_on = services()[service]["depends_on"]
    assert set(depends_on) == needs
    assert all(dep["condition"] == "service_healthy" for dep in depends_on.values())
    assert all("healthcheck" in services()[dep] for dep in needs)


def test_redis_is_durable_and_password_protected() -> None:
    redis = services()["redis"]
    assert redis["image"] == "redis:7.2-alpine"
    command = " ".join(redis["command"])
    assert "--appendonly yes" in command and "--appendfsync everysec" in command
    assert "--requirepass ${REDIS_PASSWORD:?" in command
    assert "redis-cli" in " ".join(redis["healthcheck"]["test"])
    volume = redis["volumes"][0].split(":")
    assert volume[1] == "/data" and volume[0] in compose()["volumes"]


def test_mongo_has_a_root_user_a_ping_healthcheck_and_a_volume() -> None:
    mongo = services()["mongo"]
    assert mongo["image"] == "mongo:8"
    assert mongo["environment"]["MONGO_INITDB_ROOT_USERNAME"] == "newsflow"
    assert mongo["environment"]["MONGO_INITDB_ROOT_PASSWORD"].startswith("${MONGO_PASSWORD:?")
    test = " ".join(mongo["healthcheck"]["test"])
    assert "mongosh" in test and "ping" in test
    volume = mongo["volumes"][0].split(":")
    assert volume[1] == "/data/db" and volume[0] in compose()["volumes"]


@pytest.mark.parametrize("service", APP_SERVICES)
def test_app_services_report_readiness_and_restart_even_after_exit_0(service: str) -> None:
    spec = services()[service]
    test = " ".join(spec["healthcheck"]["test"])
    assert f"http://127.0.0.1:{CONTAINER_PORT}/readyz" in test and "urllib" in test
    # A FastStream app exits 0 when its stream or group disappears: on-failure would not restart.
    assert spec["restart"] in ("unless-stopped", "always")


@pytest.mark.parametrize("service", APP_SERVICES)
def test_stop_grace_period_outlasts_the_graceful_shutdown(
        service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = services()[service]
    graceful = _settings(service, container_env(service, DUMMY_ENV), monkeypatch).graceful_timeout_s
    assert seconds(spec["stop_grace_period"]) > UVICORN_GRACEFUL_S + graceful


def test_the_test_service_is_one_shot_against_the_real_databases() -> None:
    test = services()["test"]
    assert test["profiles"] == ["test"]
    assert test["build"] == {"context": ".", "dockerfile": "tests/Dockerfile"}
    assert (ROOT / "tests" / "Dockerfile").is_file()
    assert test.get("restart", "no") == "no"
    env = interpolate(test["environment"], DUMMY_ENV)
    pw = DUMMY_ENV["MONGO_PASSWORD"]
    assert env["NEWSFLOW_TEST_MONGODB_URI"] == \
        f"mongodb://newsflow:{pw}@mongo:27017/?authSource=admin"
    assert env["NEWSFLOW_TEST_REDIS_URL"].startswith(
        f"redis://:{DUMMY_ENV['REDIS_PASSWORD']}@redis:6379/")
    assert test["command"][:1] == ["pytest"] and "integration" in test["command"]
    sync = [a for kw, a in dockerfile_instructions(ROOT / "tests" / "Dockerfile")
            if kw == "RUN" and "uv sync" in a]
    assert sync and all("--no-dev" not in a and "--frozen" in a for a in sync)


# ---- secrets and settings -----------------------------------------------------------------

def test_required_secrets_stop_compose_when_unset() -> None:
    text = COMPOSE_FILE.read_text()
    for name in REQUIRED_SECRETS:
        refs = [m for m in _VAR_REF.finditer(text) if m.group(1) == name]
        assert refs, f"{name} is never used"
        for ref in refs:
            assert (ref.group(2) or "").startswith(":?") and ref.group(3), ref.group(0)
        with pytest.raises(LookupError, match=name):
            interpolate(compose(), {k: v for k, v in DUMMY_ENV.items() if k != name})


@pytest.mark.parametrize("service", APP_SERVICES)
def test_each_service_gets_settings_it_can_start_with(
        service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(service, container_env(service, DUMMY_ENV), monkeypatch)
    assert settings.http_port == CONTAINER_PORT
    assert settings.http_host == "0.0.0.0"
    assert settings.redis_url == f"redis://:{DUMMY_ENV['REDIS_PASSWORD']}@redis:6379/0"
    if isinstance(settings, IngestSettings):
        assert settings.ingest_keys == json.loads(DUMMY_ENV["NEWSFLOW_INGEST_KEYS"])
    if isinstance(settings, PublishSettings | DeliverSettings):
        assert settings.mongodb_uri == (f"mongodb://newsflow:{DUMMY_ENV['MONGO_PASSWORD']}"
                                        "@mongo:27017/?authSource=admin")
        assert settings.admin_key is not None
        assert settings.admin_key.get_secret_value() == DUMMY_ENV["NEWSFLOW_ADMIN_KEY"]


@pytest.mark.parametrize("service", APP_SERVICES)
def test_a_setting_put_in_env_reaches_the_service_that_reads_it(service: str) -> None:
    passed = set(services()[service]["environment"])
    wanted = {f"NEWSFLOW_{n.upper()}" for n in SETTINGS[service].model_fields
              if n not in NOT_PASSED_BY_COMPOSE}
    assert sorted(wanted - passed) == []
    # ... and compose hands it nothing its settings do not read (a typo would be ignored).
    assert sorted(passed - settings_variables(SETTINGS[service])) == []
    assert not passed & {f"NEWSFLOW_{n.upper()}" for n in NOT_PASSED_BY_COMPOSE}


def test_every_variable_compose_reads_is_in_env_example() -> None:
    documented = set(env_example())
    assert sorted(compose_variable_names() - documented) == []


def test_every_setting_of_every_service_is_in_env_example() -> None:
    documented = set(env_example())
    for cls in (Settings, *SETTINGS.values()):
        assert sorted(settings_variables(cls) - documented) == [], cls.__name__


def test_env_example_explains_each_variable_and_ships_no_secret() -> None:
    lines = ENV_EXAMPLE.read_text().splitlines()
    for i, line in enumerate(lines):
        if _ENV_LINE.match(line):
            above = lines[i - 1]
            assert above.startswith("# ") and not _ENV_LINE.match(above), \
                f"{line!r} has no comment line above it"
    values = env_example()
    for name in REQUIRED_SECRETS:
        assert values[name] in ("", "change-me"), f"{name} must be empty or a placeholder"
    # Live (uncommented) lines are only the secrets: a default written out would override
    # a per-service default (e.g. enrich's longer reclaim idle time).
    live = {m.group(1) for line in lines if (m := _ENV_LINE.match(line))
            and not line.startswith("#")}
    assert live == {"COMPOSE_PROJECT_NAME", *REQUIRED_SECRETS}


def _settings(service: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The service's settings read from exactly this environment, as in its container."""
    for key in [k for k in os.environ if k.startswith("NEWSFLOW_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return SETTINGS[service]()


# ---- docker-compose, where installed -----------------------------------------------------

def _docker_compose(tmp_path: Path, env: dict[str, str], *args: str,
                    profile: str = "test") -> subprocess.CompletedProcess[str]:
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.skip("docker-compose is not installed (apt-get install docker-compose)")
    shutil.copy(COMPOSE_FILE, tmp_path / "docker-compose.yml")
    dotenv = "".join(f"{k}='{v}'\n" for k, v in env.items())
    (tmp_path / ".env").write_text(dotenv)
    return subprocess.run([exe, "-f", "docker-compose.yml", "--profile", profile, "config",
                           *(args or ("-q",))],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin"})


def test_docker_compose_accepts_the_file(tmp_path: Path) -> None:
    result = _docker_compose(tmp_path, DUMMY_ENV)
    assert result.returncode == 0, result.stderr


def test_docker_compose_accepts_the_monitoring_profile(tmp_path: Path) -> None:
    result = _docker_compose(tmp_path, DUMMY_ENV, profile="monitoring")
    assert result.returncode == 0, result.stderr
    listed = _docker_compose(tmp_path, DUMMY_ENV, "--services", profile="monitoring")
    assert {"prometheus", "grafana"} <= set(listed.stdout.split())


def test_docker_compose_refuses_to_start_without_a_password(tmp_path: Path) -> None:
    env = {k: v for k, v in DUMMY_ENV.items() if k != "REDIS_PASSWORD"}
    result = _docker_compose(tmp_path, env)
    assert result.returncode != 0
    assert "set REDIS_PASSWORD in .env" in result.stderr


# ---- the monitoring profile: Prometheus and Grafana -----------------------------------------

def prometheus_config() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    return config


def dashboard() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return document


def dashboard_panels() -> list[dict[str, Any]]:
    panels: list[dict[str, Any]] = []
    for panel in dashboard()["panels"]:
        panels.append(panel)
        panels.extend(panel.get("panels", []))  # inside collapsed rows
    return panels


def dashboard_queries() -> list[str]:
    return [t["expr"] for p in dashboard_panels() for t in p.get("targets", [])]


def exported_metric_names() -> set[str]:
    """The sample names the services expose on /metrics: the shared stream metrics and every
    metrics class built on them, counters with ``_total`` and histograms with their series."""
    metrics = Metrics("any")
    for name in METRICS_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError:
            continue
        for value in vars(module).values():
            if isinstance(value, type) and value.__module__ == name:
                value(metrics)
    names: set[str] = set()
    for family in metrics.registry.collect():
        suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"),
                    "summary": ("_sum", "_count")}.get(family.type, ("",))
        names.update(family.name + suffix for suffix in suffixes)
    return names


_PROMQL_WORDS = {
    "sum", "min", "max", "avg", "count", "topk", "bottomk", "quantile", "stddev", "rate", "irate",
    "increase", "delta", "deriv", "histogram_quantile", "vector", "scalar", "abs", "clamp_min",
    "clamp_max", "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and",
    "or", "unless", "offset", "time", "absent", "sort_desc",
}


def promql_metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (strings, matchers, ranges, groupings out)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}", " ", expr)
    expr = re.sub(r"\[[^\]]*\]", " ", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    return {w for w in re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", expr) if w not in _PROMQL_WORDS}


def promql_jobs(expr: str) -> set[str]:
    jobs: set[str] = set()
    for value in re.findall(r'\bjob\s*=~?\s*"([^"]*)"', expr):
        jobs.update(value.split("|"))
    return jobs


def _bind_mounts(service: str) -> dict[str, str]:
    """Host path (relative to the repo) -> container path, for the service's bind mounts."""
    mounts: dict[str, str] = {}
    for volume in services()[service].get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("./"):
            mounts[source.removeprefix("./")] = target
    return mounts


def test_monitoring_runs_only_with_its_profile_and_on_loopback() -> None:
    for name in ("prometheus", "grafana"):
        spec = services()[name]
        assert spec["profiles"] == ["monitoring"], name
        assert all(port.startswith("127.0.0.1:") for port in spec["ports"]), name
        assert "healthcheck" in spec and spec["restart"] == "unless-stopped"
        for source in _bind_mounts(name):
            assert (ROOT / source).exists(), f"{name} mounts ./{source}: no such file"
            assert not dockerignore_excludes(source) or source.startswith("monitoring/")
        named = [v.split(":")[0] for v in spec["volumes"] if not v.startswith("./")]
        assert named and all(v in compose()["volumes"] for v in named), name
    assert services()["grafana"]["depends_on"]["prometheus"]["condition"] == "service_healthy"
    for name in APP_SERVICES:
        assert "profiles" not in services()[name]  # the platform itself needs no profile


def test_grafana_has_no_default_or_anonymous_admin() -> None:
    env = services()["grafana"]["environment"]
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert env["GF_SECURITY_ADMIN_PASSWORD"].startswith("${NEWSFLOW_ADMIN_KEY:?")
    assert interpolate(env, DUMMY_ENV)["GF_SECURITY_ADMIN_PASSWORD"] == \
        DUMMY_ENV["NEWSFLOW_ADMIN_KEY"]


def test_prometheus_scrapes_every_service_and_replica_on_its_metrics_port() -> None:
    mounts = _bind_mounts("prometheus")
    assert mounts["monitoring/prometheus/prometheus.yml"] in " ".join(
        services()["prometheus"]["command"])
    jobs = {job["job_name"]: job for job in prometheus_config()["scrape_configs"]}
    # Every service compose builds from services/<name>/ is scraped (deliver included).
    built = {name for name, spec in services().items()
             if str(spec.get("build", {}).get("dockerfile", "")).startswith("services/")}
    for name in set(SCRAPED) | built:
        job = jobs.get(name)
        assert job is not None, f"Prometheus does not scrape {name}"
        assert job.get("metrics_path", "/metrics") == "/metrics"
        # DNS service discovery: the compose service name resolves to every replica.
        (sd,) = job["dns_sd_configs"]
        assert sd["names"] == [name] and sd["type"] == "A" and sd["port"] == CONTAINER_PORT


def promtool() -> str:
    found = shutil.which("promtool")
    unpacked = ROOT / ".newsflow" / "tools" / "prometheus" / "usr" / "bin" / "promtool"
    if found is None and unpacked.is_file():
        found = str(unpacked)
    if found is None:
        pytest.skip("promtool is not installed: scripts/test unpacks Debian's prometheus package "
                    "into .newsflow/tools when run as root with apt-get")
    return found


def test_promtool_accepts_the_prometheus_config() -> None:
    result = subprocess.run([promtool(), "check", "config", str(PROMETHEUS_CONFIG)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_check_catches_a_misspelt_key(tmp_path: Path) -> None:
    broken = PROMETHEUS_CONFIG.read_text().replace("dns_sd_configs:", "dns_sd_config:", 1)
    (tmp_path / "prometheus.yml").write_text(broken)
    result = subprocess.run([promtool(), "check", "config", str(tmp_path / "prometheus.yml")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0


def test_grafana_provisions_the_datasource_and_dashboard_it_mounts() -> None:
    mounts = _bind_mounts("grafana")
    assert mounts["monitoring/grafana/provisioning"] == "/etc/grafana/provisioning"
    datasources = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())["datasources"]
    (datasource,) = datasources
    assert datasource["type"] == "prometheus" and datasource["url"] == "http://prometheus:9090"
    providers = yaml.safe_load(
        (GRAFANA / "provisioning" / "dashboards" / "newsflow.yml").read_text())["providers"]
    (provider,) = providers
    assert provider["type"] == "file"
    assert provider["options"]["path"] == mounts["monitoring/grafana/dashboards"]
    home = services()["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"{provider['options']['path']}/{DASHBOARD.name}"

    document = dashboard()
    assert document["uid"] and document["title"] and document["schemaVersion"] >= 36
    panels = dashboard_panels()
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    for panel in panels:
        assert {"x", "y", "w", "h"} <= set(panel["gridPos"]), panel["title"]
        if panel["type"] != "row":
            assert panel["targets"], panel["title"]
            assert panel["datasource"]["uid"] == datasource["uid"], panel["title"]


def test_dashboard_queries_read_only_metrics_the_services_export() -> None:
    exported = exported_metric_names()
    queries = dashboard_queries()
    unknown = {(name, expr) for expr in queries for name in promql_metric_names(expr)
               if name not in exported | {"up"}}
    assert sorted(unknown) == []
    jobs = {job["job_name"] for job in prometheus_config()["scrape_configs"]}
    assert set().union(*(promql_jobs(q) for q in queries)) <= jobs
    # The panels per stage the dashboard promises: rate, lag and pending, dead letters,
    # handler latency, webhook outcomes, SSE clients.
    read = set().union(*(promql_metric_names(q) for q in queries))
    assert {"newsflow_events_in_total", "newsflow_events_out_total", "newsflow_group_lag",
            "newsflow_group_pending", "newsflow_dead_letters_total",
            "newsflow_batch_seconds_bucket", "newsflow_webhook_attempts_total",
            "newsflow_webhook_deliveries_total", "newsflow_sse_clients"} <= read
    staged = {job for q in queries if "newsflow_batch_seconds_bucket" in q
              for job in promql_jobs(q)}
    assert set(SCRAPED) <= staged


def test_the_metric_name_check_would_catch_a_misspelt_metric() -> None:
    expr = ('histogram_quantile(0.95, sum by (le, job) (rate(newsflow_batch_second_bucket'
            '{job="enrich", stream=~"a|b"}[5m]))) or vector(0)')
    assert promql_metric_names(expr) == {"newsflow_batch_second_bucket"}
    assert "newsflow_batch_second_bucket" not in exported_metric_names()
    assert promql_jobs(expr) == {"enrich"}
