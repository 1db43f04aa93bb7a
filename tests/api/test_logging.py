"""Operators get one structured line per request, with its request id and never a key."""

import io
import json

from api import create_app
from salesbot.access import keys
from salesbot.bootstrap import bootstrap
from salesbot.config import Settings
from salesbot.logs import configure_logging


def test_json_lines_carry_the_request_id_and_no_secret(sqlite_database_url):
    services = bootstrap(Settings(database_url=sqlite_database_url, log_format="json"))
    client = create_app(services=services).test_client()
    key, secret = keys.create(uow=services.uow(), role="server", name="erp")
    stream = io.StringIO()
    configure_logging(level="INFO", fmt="json", stream=stream)
    client.get("/v1/items", headers={"Authorization": f"Bearer {secret}", "X-Request-ID": "req-abcdef12"})
    client.get("/v1/items", headers={"Authorization": "Bearer sk_wrong-key-typed-by-someone"})
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    first = next(line for line in lines if line.get("request_id") == "req-abcdef12")
    assert (first["method"], first["path"], first["status"], first["key_id"]) == ("GET", "/v1/items", 200, key.id)
    assert first["level"] == "INFO"
    assert any(line["status"] == 401 for line in lines)
    assert secret not in stream.getvalue()
    assert "sk_wrong-key-typed-by-someone" not in stream.getvalue()
    services.close()
