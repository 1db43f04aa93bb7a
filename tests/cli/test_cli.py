"""Operators set salesbot up from the command line."""

from salesbot import schema
from salesbot.cli import main


def test_help_lists_the_commands(runner):
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("db", "keys", "serve", "config"):
        assert command in result.output


def test_db_upgrade_is_repeatable(runner, tmp_path):
    env = {"SALESBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}"}
    first = runner.invoke(main, ["db", "upgrade"], env=env)
    again = runner.invoke(main, ["db", "upgrade"], env=env)
    assert first.exit_code == again.exit_code == 0
    head = schema.head_revision(env["SALESBOT_DATABASE_URL"])
    assert runner.invoke(main, ["db", "current"], env=env).output.strip() == head


def test_a_key_is_printed_once_and_listed_without_its_secret(runner):
    created = runner.invoke(main, ["keys", "create", "--role", "admin", "--name", "ops laptop"])
    assert created.exit_code == 0
    secret = created.stdout.strip()
    assert secret.startswith("sk_")
    assert "not shown again" in created.stderr
    listed = runner.invoke(main, ["keys", "list"])
    assert "ops laptop" in listed.output
    assert "admin" in listed.output
    assert secret not in listed.output


def test_a_revoked_key_is_shown_as_revoked(runner, client):
    secret = runner.invoke(main, ["keys", "create", "--role", "server"]).stdout.strip()
    assert client.get("/v1/items", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    key_id = runner.invoke(main, ["keys", "list"]).output.split("\n")[2].split()[0]
    assert runner.invoke(main, ["keys", "revoke", key_id]).exit_code == 0
    assert client.get("/v1/items", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_mistakes_get_one_clear_line(runner):
    unknown = runner.invoke(main, ["keys", "revoke", "key_nope"])
    assert unknown.exit_code == 1
    assert "no API key 'key_nope'" in unknown.output
    assert "Traceback" not in unknown.output
    bad_role = runner.invoke(main, ["keys", "create", "--role", "boss"])
    assert bad_role.exit_code == 2
    assert "'boss' is not one of" in bad_role.output


def test_a_bad_setting_is_named(runner):
    result = runner.invoke(main, ["keys", "list"], env={"SALESBOT_LOG_FORMAT": "xml"})
    assert result.exit_code == 1
    assert "SALESBOT_LOG_FORMAT" in result.output


def test_config_lists_every_variable(runner):
    output = runner.invoke(main, ["config"]).output
    assert "SALESBOT_DATABASE_URL" in output
    assert "SALESBOT_REDIS_URL" in output
