"""`salesbot kpis` prints the figures the API answers, as a table an operator reads in the terminal."""

from __future__ import annotations

from salesbot.cli import main
from tests.conftest import keyed_client


def test_the_terminal_table_shows_the_api_s_figures(runner, services):
    chat = keyed_client(services)
    for visitor in ("v-1", "v-2"):
        cid = chat.post("/v1/conversations", json={"visitor_id": visitor}).json["conversation_id"]
        chat.post(f"/v1/conversations/{cid}/messages", json={"text": "I want to talk to a human"})
    api = {k["name"]: k for k in keyed_client(services, "marketer").get("/v1/kpis").json["kpis"]}
    printed = runner.invoke(main, ["kpis", "--granularity", "week"])
    assert printed.exit_code == 0, printed.output
    said = printed.output.splitlines()[3:]  # after the window, the header and its rule
    started = next(line for line in said if "Conversations started" in line)
    assert float(started.split()[-1]) == api["conversations_started"]["value"] == 2
    assert "100.0%" in next(line for line in said if "Handed to a person" in line)
    assert len(said) == len(api)  # one line per KPI


def test_a_window_that_ends_before_it_starts_is_refused_by_name(runner):
    printed = runner.invoke(main, ["kpis", "--from", "2026-11-20", "--to", "2026-11-01"])
    assert printed.exit_code != 0
    assert "from" in printed.output
