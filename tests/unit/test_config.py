from dataclasses import FrozenInstanceError, fields
from pathlib import Path

import pytest

from salesbot.config import Settings
from salesbot.errors import InvalidInput


def test_settings_come_from_salesbot_variables():
    settings = Settings.from_env(
        {
            "SALESBOT_DATABASE_URL": "postgresql+psycopg://db/shop",
            "SALESBOT_CORS_ORIGINS": "https://a.example, https://b.example",
            "SALESBOT_MAX_BODY_BYTES": "4096",
            "SALESBOT_REDIS_URL": "redis://127.0.0.1:6379/0",
            "OTHER_DATABASE_URL": "ignored",
        }
    )
    assert settings.database_url == "postgresql+psycopg://db/shop"
    assert settings.cors_origins == ("https://a.example", "https://b.example")
    assert settings.max_body_bytes == 4096
    assert settings.redis_url == "redis://127.0.0.1:6379/0"


def test_defaults_are_the_embedded_setup():
    settings = Settings.from_env({})
    assert settings.database_url == "sqlite:///salesbot.db"
    assert settings.redis_url is None
    assert settings.cors_origins == ()


def test_settings_are_frozen():
    with pytest.raises(FrozenInstanceError):
        Settings().database_url = "sqlite://"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("variable", "value"),
    [("SALESBOT_MAX_BODY_BYTES", "lots"), ("SALESBOT_LOG_FORMAT", "xml"), ("SALESBOT_MAX_BODY_BYTES", "10")],
)
def test_a_bad_setting_names_its_variable(variable, value):
    with pytest.raises(InvalidInput) as caught:
        Settings.from_env({variable: value})
    assert variable in caught.value.errors


def test_no_secret_has_a_default():
    secretive = [f for f in fields(Settings) if f.name.endswith(("_key", "_secret", "_password", "_token"))]
    assert "llm_api_key" in [f.name for f in secretive]
    assert all(f.default is None for f in secretive)


def test_every_setting_is_documented():
    documented = {name for name, _default, _meaning in Settings.documented()}
    assert documented == {"SALESBOT_" + f.name.upper() for f in fields(Settings)}
    text = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    assert all(name in text for name in documented), "the README's configuration table is missing a setting"


def test_the_llm_is_used_when_a_server_or_key_is_configured():
    assert not Settings.from_env({}).uses_llm
    assert Settings.from_env({"SALESBOT_LLM_BASE_URL": "http://127.0.0.1:11434/v1"}).uses_llm
    assert Settings.from_env({"OPENAI_API_KEY": "sk-test"}).llm_api_key == "sk-test"
    assert Settings.from_env({"OPENAI_API_KEY": "sk-test", "SALESBOT_LLM_API_KEY": "mine"}).llm_api_key == "mine"
    assert not Settings.from_env({"OPENAI_API_KEY": "sk-test", "SALESBOT_BRAIN": "rules"}).uses_llm
    with pytest.raises(InvalidInput, match="SALESBOT_BRAIN"):
        Settings.from_env({"SALESBOT_BRAIN": "magic"})
