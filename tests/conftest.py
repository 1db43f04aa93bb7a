"""Fixtures: settings, databases (SQLite always, PostgreSQL where configured), app, client, keys."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from api import create_app
from salesbot import schema
from salesbot.access import keys
from salesbot.access.roles import Role
from salesbot.bootstrap import Salesbot, bootstrap
from salesbot.config import Settings
from salesbot.inbox import reps
from tests.llm_server import ScriptedLLM

POSTGRES_URL = os.environ.get("SALESBOT_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
ORIGIN = "https://shop.example"


def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'salesbot.db'}"


def fresh_postgres_url() -> str:
    """A new, empty database on the test server, dropped when the session ends."""
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL tests need SALESBOT_TEST_POSTGRES_URL (set by .ci/run when 127.0.0.1:5432 answers)")
    name = f"salesbot_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    _created_databases.append(name)
    return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)


_created_databases: list[str] = []


@pytest.fixture(scope="session", autouse=True)
def _drop_test_databases() -> Iterator[None]:
    yield
    if not _created_databases:
        return
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        for name in _created_databases:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def empty_database_url(request, tmp_path) -> str:
    """An empty database, once on SQLite and once on PostgreSQL."""
    return sqlite_url(tmp_path) if request.param == "sqlite" else fresh_postgres_url()


@pytest.fixture
def database_url(empty_database_url) -> str:
    schema.upgrade(empty_database_url)
    return empty_database_url


@pytest.fixture
def sqlite_database_url(tmp_path) -> str:
    url = sqlite_url(tmp_path)
    schema.upgrade(url)
    return url


@pytest.fixture
def settings(sqlite_database_url) -> Settings:
    return Settings(database_url=sqlite_database_url, cors_origins=(ORIGIN,), webhook_allow_networks=("127.0.0.0/8",))


@pytest.fixture
def services(settings) -> Iterator[Salesbot]:
    built = bootstrap(settings)
    yield built
    built.close()


@pytest.fixture
def app(services):
    return create_app(services=services)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(settings) -> CliRunner:
    return CliRunner(env={"SALESBOT_DATABASE_URL": settings.database_url})


@pytest.fixture
def api_keys(services) -> dict[Role, str]:
    """A working key for every role."""
    made = {role: keys.create(uow=services.uow(), role=role.value, name=f"test {role}")[1] for role in Role}
    made[Role.REP] = reps.create(uow=services.uow(), name="Test Rep", email="rep@shop.example")[1]  # a rep's own key
    return made


@pytest.fixture
def as_role(api_keys):
    """Authorization headers for a role: `client.get(url, headers=as_role(Role.SERVER))`."""

    def headers(role: Role) -> dict[str, str]:
        return {"Authorization": f"Bearer {api_keys[role]}"}

    return headers


@pytest.fixture(scope="module")
def live_server(tmp_path_factory) -> Iterator[LiveServer]:
    """salesbot served by `salesbot serve` (gunicorn), as an operator runs it, on a fresh SQLite database."""
    with serving(tmp_path_factory.mktemp("live")) as server:
        yield server


@contextlib.contextmanager
def serving(
    folder: Path, *, port: int | None = None, prepare: Callable[[dict[str, str]], dict[str, str]] | None = None
) -> Iterator[LiveServer]:
    """`salesbot serve` on a fresh SQLite database in `folder`; `prepare(env)` runs once the schema is there and
    answers more settings for the server (a key it made, say)."""
    env = os.environ | {
        "SALESBOT_DATABASE_URL": f"sqlite:///{folder / 'salesbot.db'}",
        "SALESBOT_LOG_FORMAT": "json",
        "GUNICORN_CMD_ARGS": "--graceful-timeout 5",
    }  # open streams must not hold up the stop
    subprocess.run([sys.executable, "-m", "salesbot", "db", "upgrade"], env=env, check=True, capture_output=True)
    if prepare is not None:
        env |= prepare(env)
    port = port or free_port()
    log = (folder / "gunicorn.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "salesbot", "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = LiveServer(f"http://127.0.0.1:{port}", env, folder)
    try:
        server.wait_until_up(process)
        yield server
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class LiveServer:
    url: str
    env: dict[str, str]
    folder: Path

    def wait_until_up(self, process: subprocess.Popen, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError("gunicorn exited before it served a request")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer within {seconds} s")

    def salesbot(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "salesbot", *args], env=self.env, capture_output=True, text=True, check=True
        )

    def request(self, method: str, path: str, *, key: str | None = None, body: bytes | None = None):
        """(status, headers, parsed JSON body) of one real HTTP request."""
        headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {key}"} if key else {})
        request = urllib.request.Request(f"{self.url}{path}", data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # a loaded CI machine is slow
                return response.status, response.headers, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            with error:
                return error.code, error.headers, json.loads(error.read() or b"null")


@pytest.fixture
def llm() -> Iterator[ScriptedLLM]:
    """A scripted OpenAI-compatible server on loopback; set `llm.script`, read `llm.requests`."""
    server = ScriptedLLM().start()
    yield server
    server.stop()


def keyed_client(services: Salesbot, role: str = "server"):  # type: ignore[no-untyped-def]
    """A test client of the app on `services` that sends a fresh key of `role` with every request."""
    client = create_app(services=services).test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + keys.create(uow=services.uow(), role=role, name=role)[1]
    return client
