"""`salesbot jobs` shows each scheduled job with its period, last run, outcome and next run, as `GET /v1/jobs` answers
admins; `salesbot jobs run NAME` runs one now; `salesbot faq gaps` prints the unanswered questions, grouped."""

from __future__ import annotations

import re

from salesbot.cli import main
from tests.conftest import keyed_client

OFF = {"SALESBOT_EMBEDDINGS": "off"}


def test_the_jobs_table_shows_what_the_api_answers(runner, services):
    assert runner.invoke(main, ["jobs", "run", "prune-models"], env=OFF).output.startswith(
        "prune-models: ok: nothing to prune"
    )
    skipped = runner.invoke(main, ["jobs", "run", "reembed"], env=OFF)
    assert skipped.output == "reembed: skipped: no embedding model is configured (SALESBOT_EMBEDDINGS=off)\n"

    printed = runner.invoke(main, ["jobs"], env=OFF)
    assert printed.exit_code == 0, printed.output
    lines = {line.split()[0]: line for line in printed.output.splitlines()[2:] if line and not line.startswith(" ")}
    answer = keyed_client(services, "admin").get("/v1/jobs")
    assert answer.status_code == 200
    assert list(lines) == [job["name"] for job in answer.json]  # one line per job, in the API's order
    assert lines["retrain"].split()[1:3] == ["off", "-"]  # no retraining setting: never on its own
    assert "10 min" in lines["prune-models"]
    assert " ok " in lines["prune-models"]
    assert "nothing to prune" in lines["prune-models"]
    assert " skipped " in lines["reembed"]
    assert "never ran" in lines["faq-gaps"]
    api = {job["name"]: job for job in answer.json}
    assert api["prune-models"]["last_run"]["outcome"] == "ok"
    assert api["reembed"]["last_run"]["summary"].startswith("no embedding model")
    assert keyed_client(services, "marketer").get("/v1/jobs").status_code == 403

    history = runner.invoke(main, ["jobs", "runs"], env=OFF)
    assert [line.split()[0] for line in history.output.splitlines()[2:] if line and not line.startswith(" ")] == [
        "reembed", "prune-models",
    ]  # fmt: skip


def test_an_unknown_job_is_refused_by_name(runner):
    printed = runner.invoke(main, ["jobs", "run", "reticulate"], env=OFF)
    assert printed.exit_code != 0
    assert "no job 'reticulate'; the jobs are retrain, prune-models, guardrails, reembed, faq-gaps" in printed.output


def test_faq_gaps_prints_the_questions_the_bot_could_not_answer(runner, services):
    chat = keyed_client(services)
    for visitor, text in (("v-1", "Do you ship to Canada?"), ("v-2", "do you ship to canada"),
                          ("v-3", "Can you gift wrap it?")):  # fmt: skip
        cid = chat.post("/v1/conversations", json={"visitor_id": visitor}).json["conversation_id"]
        chat.post(f"/v1/conversations/{cid}/messages", json={"text": text})
    printed = runner.invoke(main, ["faq", "gaps"], env=OFF)
    assert printed.exit_code == 0, printed.output
    assert ": 3 unanswered questions in 2 groups (grouped by tf-idf words and characters)" in printed.output
    rows = [line for line in printed.output.splitlines()[3:] if re.match(r"\s*\d+ ", line)]  # a group's first line
    assert rows[0].split()[0] == "2"
    assert "ship to canada" in rows[0].lower()
    assert rows[1].split()[0] == "1"
    assert "gift wrap" in rows[1]
