"""`salesbot finetune submit` and `status` through the real openai SDK against the scripted server's fine-tuning API
on loopback: what is uploaded and asked for, how a job is followed, and how its model goes into an experiment arm."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from models import Message, MessageFeedback
from salesbot.bootstrap import bootstrap
from salesbot.cli import main
from salesbot.config import Settings
from tests.conftest import free_port, keyed_client
from tests.integration.test_conversations import stock
from tests.integration.test_finetune_export import WORDS, run, scripted, talk


@pytest.fixture
def shop(sqlite_database_url, llm):
    """The store on SQLite only: what is sent to the fine-tuning API does not depend on the database."""
    llm.script = [scripted]
    settings = Settings(database_url=sqlite_database_url, llm_base_url=llm.base_url, llm_model="scripted-model",
                        embeddings="off", conversation_rate_limit="1000/minute")  # fmt: skip
    services = bootstrap(settings)
    stock(services)
    yield services
    services.close()


@pytest.fixture
def chat(shop):
    return keyed_client(shop)


@pytest.fixture
def runner(shop, llm):
    env = {"SALESBOT_DATABASE_URL": shop.settings.database_url, "SALESBOT_EMBEDDINGS": "off",
           "SALESBOT_LLM_BASE_URL": llm.base_url, "SALESBOT_LLM_API_KEY": "sk-test",
           "SALESBOT_LLM_MAX_RETRIES": "0"}  # fmt: skip
    return CliRunner(env=env)


@pytest.fixture
def exported(shop, chat, tmp_path):
    for n in range(16):
        talk(chat, WORDS[n], visitor=f"v-{n}")
    run(shop, tmp_path, validation_share=0.3)
    return tmp_path


def invoke(runner, *args):
    result = runner.invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_submit_uploads_the_files_as_exported_and_starts_a_supervised_job(runner, exported, llm):
    said = invoke(runner, "finetune", "submit", str(exported), "--model", "gpt-4o-mini-2024-07-18", "--suffix", "shop")
    job_id = re.search(r"fine-tuning job (ftjob-\w+)", said).group(1)
    uploaded = {f["filename"]: f for f in llm.files.values()}
    assert uploaded["train.jsonl"]["content"] == (exported / "train.jsonl").read_bytes()
    assert uploaded["validation.jsonl"]["content"] == (exported / "validation.jsonl").read_bytes()
    assert {f["purpose"] for f in uploaded.values()} == {"fine-tune"}
    asked = llm.jobs[job_id]["_asked"]
    assert asked["method"] == {"type": "supervised"}
    assert asked["model"] == "gpt-4o-mini-2024-07-18"
    assert asked["suffix"] == "shop"
    files = {f["filename"]: file_id for file_id, f in llm.files.items()}
    assert (asked["training_file"], asked["validation_file"]) == (files["train.jsonl"], files["validation.jsonl"])
    manifest = json.loads((exported / "manifest.json").read_text())
    assert asked["metadata"]["salesbot_export"] == manifest["files"]["train.jsonl"]["sha256"][:16]


def test_status_follows_the_job_to_its_model_and_says_how_to_try_it_in_an_arm(runner, exported, llm, shop):
    job_id = re.search(r"(ftjob-\w+)", invoke(runner, "finetune", "submit", str(exported))).group(1)
    first = invoke(runner, "finetune", "status")  # the newest job
    assert job_id in first
    assert "queued" in first
    while "succeeded" not in (said := invoke(runner, "finetune", "status", job_id)):
        assert "failed" not in said
    model = llm.jobs[job_id]["fine_tuned_model"]
    assert model in said
    assert f"New fine-tuned model created: {model}" in said  # the job's events
    experiment = json.loads(re.search(r"POST /v1/experiments (\{.*\})", said).group(1))
    created = keyed_client(shop, "marketer").post("/v1/experiments", json=experiment)
    assert created.status_code == 201, created.json
    assert {"name": "fine-tuned", "weight": 1, "model": model} in [
        {k: v for k, v in arm.items() if v is not None} for arm in created.json["arms"]
    ]


def test_a_preference_export_starts_a_dpo_job(runner, shop, chat, llm, tmp_path):
    ids = [talk(chat, WORDS[n], visitor=f"v-{n}") for n in range(12)]
    with shop.uow() as uow:
        for cid in ids:
            seq = max(uow.session.scalars(select(Message.seq).where(Message.conversation_id == cid)))
            uow.session.add(MessageFeedback(conversation_id=cid, seq=seq, given_by="key", role="rep",
                                            correction="Which budget do you have in mind for them?"))  # fmt: skip
        uow.commit()
    run(shop, tmp_path, kind="preference", validation_share=0.0)
    job_id = re.search(r"(ftjob-\w+)", invoke(runner, "finetune", "submit", str(tmp_path))).group(1)
    assert llm.jobs[job_id]["_asked"]["method"] == {"type": "dpo"}
    assert "validation_file" not in llm.jobs[job_id]["_asked"]  # an empty validation file is not sent
    while "succeeded" not in (said := invoke(runner, "finetune", "status", job_id)):
        assert "failed" not in said  # the server found each line a DPO example


def test_a_file_changed_since_the_export_is_not_sent(runner, exported, llm):
    with (exported / "train.jsonl").open("a") as file:
        file.write('{"messages": [{"role": "user", "content": "not what was exported"}]}\n')
    result = runner.invoke(main, ["finetune", "submit", str(exported)])
    assert result.exit_code == 1
    assert "changed since it was exported" in result.output
    assert llm.files == {}


def test_unknown_jobs_and_unreachable_servers_are_one_clear_line(runner, shop, exported):
    result = runner.invoke(main, ["finetune", "status", "ftjob-nope"])
    assert result.exit_code == 1
    assert "no such job or file" in result.output
    away = CliRunner(env=runner.env | {"SALESBOT_LLM_BASE_URL": f"http://127.0.0.1:{free_port()}/v1"})
    result = away.invoke(main, ["finetune", "submit", str(exported)])
    assert result.exit_code == 1
    assert "the LLM server is unavailable" in result.output
