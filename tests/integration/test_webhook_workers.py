"""Three `salesbot worker` processes on PostgreSQL deliver 2,000 events; one is killed with SIGKILL midway.
Every event still arrives, the deduplicating receiver processes each webhook-id once, and what the dead
worker held is claimed again when its lease runs out."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from models import Delivery
from salesbot import schema
from salesbot.bootstrap import bootstrap
from salesbot.config import Settings
from salesbot.webhooks import endpoints, outbox
from tests.conftest import fresh_postgres_url
from tests.webhook_receiver import Receiver

EVENTS = 2_000
LEASE_SECONDS = 10


def wait_for(condition, *, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s")
        time.sleep(0.05)


def unfinished(services) -> int:
    with services.uow() as uow:
        return uow.session.scalar(select(func.count()).where(Delivery.status != "succeeded"))


def slowly(_request):
    time.sleep(0.003)  # a CRM takes a moment: the kill lands while deliveries are in flight
    return 200


@pytest.mark.postgres
def test_a_killed_worker_loses_nothing_and_its_deliveries_are_reclaimed():
    url = fresh_postgres_url()
    schema.upgrade(url)
    services = bootstrap(Settings(database_url=url, webhook_allow_networks=("127.0.0.0/8",)))
    receiver = Receiver(script=[slowly])
    _endpoint, receiver.secret = endpoints.create(uow=services.uow(), guard=services.webhook_guard, url=receiver.url)
    for batch in range(4):
        with services.uow() as uow:
            for n in range(EVENTS // 4):
                outbox.emit(uow.session, "lead.qualified", {"lead_id": f"ld_{batch}_{n}"})
            uow.commit()
    env = os.environ | {
        "SALESBOT_DATABASE_URL": url,
        "SALESBOT_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8",
        "SALESBOT_WEBHOOK_LEASE_SECONDS": str(LEASE_SECONDS),
        "SALESBOT_LOG_LEVEL": "WARNING",
    }
    command = [str(Path(sys.executable).parent / "salesbot"), "worker", "--concurrency", "4"]
    workers = [subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL) for _ in range(3)]
    try:
        wait_for(lambda: len(receiver.processed) >= 300, seconds=60)
        workers[0].send_signal(signal.SIGKILL)
        killed = time.monotonic()
        with services.uow() as uow:
            held = uow.session.scalar(select(func.count()).where(Delivery.status == "delivering"))
        wait_for(lambda: len(receiver.processed) == EVENTS and not unfinished(services), seconds=LEASE_SECONDS + 90)
        finished = time.monotonic() - killed
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(timeout=30)
        receiver.stop()
    with services.uow() as uow:
        ids = set(uow.session.scalars(select(Delivery.id)))
        statuses = set(uow.session.scalars(select(Delivery.status).distinct()))
    services.close()
    assert set(receiver.processed) == ids  # every event, each webhook-id processed once (duplicates ignored)
    assert {p["data"]["lead_id"] for p in receiver.processed.values()} == {
        f"ld_{batch}_{n}" for batch in range(4) for n in range(EVENTS // 4)
    }
    assert statuses == {"succeeded"}
    assert all(request.verified for request in receiver.requests)
    assert held > 0  # the kill left deliveries leased to a dead worker...
    assert finished < 60  # ...and they were claimed again well within a minute
    assert workers[1].returncode == 0  # the others stopped cleanly on SIGTERM
