"""Settings: defaults, validation errors naming the setting, and the CLI exit code."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from laptop_agents.config import Settings, load_settings
from laptop_agents.errors import EXIT_CONFIG, ConfigError


def test_defaults_are_valid_and_fraction_risk() -> None:
    settings = load_settings()
    assert settings.source == "sim"
    assert settings.symbol == "BTCUSDT"
    assert settings.risk_pct == Decimal("0.01")
    assert settings.api_host == "127.0.0.1"


def test_env_prefix_and_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("LA_SYMBOL=ethusdt\n")
    monkeypatch.setenv("LA_RISK_PCT", "0.02")
    settings = load_settings()
    assert settings.symbol == "ETHUSDT"
    assert settings.risk_pct == Decimal("0.02")


@pytest.mark.parametrize(
    ("name", "value"),
    [("LA_RISK_PCT", "5"), ("LA_SOURCE", "binance"), ("LA_API_PORT", "99999"),
     ("LA_INTERVAL", "1m"), ("LA_BITUNIX_WS_URL", "http://x")],
)
def test_invalid_value_names_the_setting(monkeypatch: pytest.MonkeyPatch, name: str,
                                         value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert name in message
    assert "\n" not in message


def test_non_loopback_api_needs_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LA_API_HOST", "0.0.0.0")
    with pytest.raises(ConfigError, match="LA_API_TOKEN"):
        load_settings()
    monkeypatch.setenv("LA_API_TOKEN", "s3cret-s3cret-s3cret")
    assert load_settings().api_host == "0.0.0.0"


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0", "::"])
@pytest.mark.parametrize("token", ["", "   ", "\t\n", "fifteen-chars!!", "  short-token  "])
def test_empty_blank_or_short_token_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, host: str, token: str
) -> None:
    monkeypatch.setenv("LA_API_HOST", host)
    monkeypatch.setenv("LA_API_TOKEN", token)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith("invalid setting LA_API_TOKEN: ")
    assert "16 characters" in message
    assert "\n" not in message
    if token.strip():
        assert token.strip() not in message  # the value itself is never echoed


def test_token_is_stripped_and_16_characters_suffice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LA_API_HOST", "0.0.0.0")
    monkeypatch.setenv("LA_API_TOKEN", "  0123456789abcdef \n")
    token = load_settings().api_token
    assert token is not None and token.get_secret_value() == "0123456789abcdef"


def test_unset_token_on_loopback_is_fine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LA_API_TOKEN", raising=False)
    assert load_settings().api_token is None  # the daemon generates one (api/token.py)


@pytest.mark.parametrize("token", ["", "   "])
def test_cli_blank_token_on_all_interfaces_exits_78(tmp_path: Path, token: str) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LA_API_HOST": "0.0.0.0",
           "LA_API_TOKEN": token, "LA_API_PORT": "0", "LA_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.run(
        [sys.executable, "-m", "laptop_agents", "run", "--duration", "1"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60,
    )
    assert proc.returncode == EXIT_CONFIG, proc.stderr
    assert proc.stderr.strip().count("\n") == 0, proc.stderr
    assert "LA_API_TOKEN" in proc.stderr
    assert not (tmp_path / "data").exists()  # refused before anything was started


def test_cli_flags_override_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LA_SYMBOL", "ETHUSDT")
    assert load_settings(symbol="SOLUSDT").symbol == "SOLUSDT"


def test_secrets_are_listed_for_scrubbing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LA_API_TOKEN", "tok-123-tok-123-tok")
    monkeypatch.setenv("LA_BITUNIX_API_SECRET", "sec-456")
    assert set(load_settings().secrets()) == {"tok-123-tok-123-tok", "sec-456"}


def test_cli_config_error_is_one_line_and_exit_78(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "LA_RISK_PCT": "5", "HOME": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "laptop_agents", "run", "--duration", "1"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60,
    )
    assert proc.returncode == EXIT_CONFIG
    assert proc.stderr.strip().count("\n") == 0
    assert "LA_RISK_PCT" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_env_example_documents_every_setting() -> None:
    example = (Path(__file__).resolve().parent.parent / ".env.example").read_text()
    for name, field in Settings.model_fields.items():
        assert f"LA_{name.upper()}=" in example, f"LA_{name.upper()} missing from .env.example"
        if field.description:
            assert field.description in example


def test_configuration_doc_is_current() -> None:
    from laptop_agents.config_docs import render_configuration_md

    doc = (Path(__file__).resolve().parent.parent / "docs" / "configuration.md").read_text()
    assert doc == render_configuration_md(), (
        "docs/configuration.md is stale: python -m laptop_agents.config_docs > "
        "docs/configuration.md"
    )
