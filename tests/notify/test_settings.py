"""LA_WEBHOOK_URL and LA_NOTIFY_EVENTS: parsing, redaction, errors that name the setting (and
never show a secret), and the secrets handed to the log scrubber."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from laptop_agents.config import load_settings
from laptop_agents.errors import EXIT_CONFIG, ConfigError
from laptop_agents.notify.events import EVENTS, parse_events
from laptop_agents.notify.targets import parse_targets, redact, url_secrets

TOKEN = "123456789:AAF-secretBotTokenValue_xyz"
TELEGRAM = f"https://api.telegram.org/bot{TOKEN}/sendMessage?chat_id=-100200300"
SLACK = "https://hooks.example.com/services/T0000/B0000/XXXXsecretXXXXpathXXXX"


def test_comma_separated_and_json_list_forms() -> None:
    comma = parse_targets(f"{SLACK}, {TELEGRAM}")
    listed = parse_targets(f'["{SLACK}", "{TELEGRAM}"]')
    assert comma == listed
    assert [t.kind for t in comma] == ["json", "telegram"]
    telegram = comma[1]
    assert telegram.chat_id == -100200300
    assert telegram.url == f"https://api.telegram.org/bot{TOKEN}/sendMessage"  # no query
    assert [t.redacted for t in comma] == ["https://hooks.example.com/…",
                                           "https://api.telegram.org/…"]
    assert parse_targets(None) == parse_targets("  ") == []


def test_a_local_url_of_the_telegram_shape_is_telegram() -> None:
    (target,) = parse_targets(f"http://127.0.0.1:8443/bot{TOKEN}/sendMessage?chat_id=@news")
    assert (target.kind, target.chat_id, target.redacted) == (
        "telegram", "@news", "http://127.0.0.1:8443/…")


@pytest.mark.parametrize(("url", "why"), [
    ("ftp://example.com/secretpath123", "not an http"),
    (f"https://api.telegram.org/bot{TOKEN}/sendMessage", "chat_id"),
    ("https://api.telegram.org/secretpath123/other", "/bot<token>/sendMessage"),
])
def test_bad_urls_are_refused_naming_them_redacted(url: str, why: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_targets(url)
    assert why in str(caught.value)
    assert "secret" not in str(caught.value) and TOKEN not in str(caught.value)


def test_redact_keeps_scheme_host_and_port_only() -> None:
    assert redact("https://user:pw@example.com:8443/a/b?k=v#f") == "https://example.com:8443/…"


def test_event_filter() -> None:
    assert parse_events("all") == parse_events("") == frozenset(EVENTS)
    assert parse_events(" Entry , exit") == {"entry", "exit"}
    with pytest.raises(ValueError, match="unknown event 'fills'"):
        parse_events("entry,fills")


def test_invalid_settings_name_the_setting_and_hide_the_url() -> None:
    with pytest.raises(ConfigError, match="LA_NOTIFY_EVENTS: unknown event 'nope'"):
        load_settings(notify_events="entry,nope")
    with pytest.raises(ConfigError) as caught:
        load_settings(webhook_url=f"https://api.telegram.org/bot{TOKEN}/sendMessage")
    message = str(caught.value)
    assert "LA_WEBHOOK_URL" in message and "chat_id" in message
    assert TOKEN not in message and "bot" not in message.replace("/bot<token>/", "")


def test_url_secrets_go_to_the_log_scrubber() -> None:
    secrets = load_settings(webhook_url=f"{SLACK},{TELEGRAM}").secrets()
    assert TOKEN in secrets and SLACK in secrets and TELEGRAM in secrets
    assert "/services/T0000/B0000/XXXXsecretXXXXpathXXXX" in secrets
    assert "sendMessage" not in secrets and "-100200300" in secrets
    assert url_secrets("http://127.0.0.1:1/hook") == ["http://127.0.0.1:1/hook"]


def test_cli_unknown_event_exits_78(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LA_NOTIFY_EVENTS": "entry,boom",
           "LA_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.run([sys.executable, "-m", "laptop_agents", "run", "--duration", "1"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert proc.returncode == EXIT_CONFIG, proc.stderr
    assert "LA_NOTIFY_EVENTS" in proc.stderr and "boom" in proc.stderr
    assert not (tmp_path / "data").exists()


def test_a_json_list_in_the_environment(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"LA_WEBHOOK_URL='[\"{SLACK}?a=1,2\", \"{TELEGRAM}\"]'\n")
    secret = load_settings().webhook_url
    assert secret is not None
    targets = parse_targets(secret.get_secret_value())
    assert [t.url for t in targets] == [f"{SLACK}?a=1,2", TELEGRAM.split("?")[0]]
