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


def test_import_prints_a_summary_and_writes_rejects(runner, tmp_path):
    items = tmp_path / "items.csv"
    items.write_text("sku,name,cost\nA-1,Mug,4.50\nA-2,,3.00\nA-3,Teapot,abc\n", encoding="utf-8")
    rejects = tmp_path / "bad.csv"
    result = runner.invoke(
        main,
        [
            "import",
            "items",
            str(items),
            "--map",
            "sku=item_id,name=title,cost=price",
            "--set",
            "currency=GBP",
            "--rejects",
            str(rejects),
        ],
    )
    assert result.exit_code == 0, result.output
    counts = dict(line.split() for line in result.stdout.splitlines()[2:7])
    assert counts == {"created": "1", "updated": "0", "unchanged": "0", "duplicate": "0", "rejected": "2"}
    assert "title is required" in result.stdout
    assert rejects.read_text(encoding="utf-8").splitlines()[0] == "row,reason,sku,name,cost"


def test_import_of_a_missing_or_unknown_file_is_one_clear_line(runner, tmp_path):
    missing = runner.invoke(main, ["import", "items", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 2
    assert "does not exist" in missing.output
    odd = tmp_path / "items.xlsx"
    odd.write_text("x", encoding="utf-8")
    unknown = runner.invoke(main, ["import", "items", str(odd)])
    assert unknown.exit_code == 1
    assert "cannot tell the format of items.xlsx" in unknown.output


def test_demo_data_is_deterministic_and_loads_once(runner, tmp_path):
    small = ["demo-data", "--items", "60", "--customers", "20", "--sessions", "200"]
    first = runner.invoke(main, small)
    assert first.exit_code == 0, first.output
    added = {line.split()[0]: int(line.split()[1]) for line in first.stdout.splitlines()[2:]}
    assert added["items"] == 60
    assert added["customers"] == 20
    assert added["events"] > 200
    again = runner.invoke(main, small).stdout.splitlines()[2:]
    assert all(line.split()[1] == "0" for line in again)
    other = {"SALESBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'other.db'}"}
    runner.invoke(main, ["db", "upgrade"], env=other)
    assert runner.invoke(main, small, env=other).stdout == first.stdout


def test_experiment_results_print_as_a_table(runner, services):
    from salesbot.offers import experiments, offers

    deal = offers.create(uow=services.uow(), changed_by=None, name="Deal", kind="percent", value=10)
    arms = [{"name": "control", "weight": 1}, {"name": "deal", "weight": 1, "offer_id": deal.id}]
    made = experiments.create(uow=services.uow(), changed_by=None, prompts=("default",), name="Spring", arms=arms)
    result = runner.invoke(main, ["experiments", "results", made.id])
    assert result.exit_code == 0, result.output
    assert "Spring (draft), primary metric: qualified, control: control" in result.output
    assert "chance to beat" in result.output
    assert "deal" in result.output
    listed = runner.invoke(main, ["experiments", "list"])
    assert made.id in listed.output
    unknown = runner.invoke(main, ["experiments", "results", "exp_nope"])
    assert unknown.output.strip() == "Error: no experiment 'exp_nope'"
