"""Renders docs/configuration.md from the Settings model, so the reference cannot drift.

`python -m laptop_agents.config_docs > docs/configuration.md`; tests/test_config.py checks it.
"""

from __future__ import annotations

import sys

from laptop_agents.config import Settings


def _default(name: str) -> str:
    field = Settings.model_fields[name]
    if field.default_factory is not None:
        return "computed at start-up"
    value = field.default
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def render_configuration_md() -> str:
    lines = [
        "# Configuration",
        "",
        "Every setting is an environment variable with the prefix `LA_`, also read from a `.env`",
        "file in the working directory (`.env.example` lists them all with their defaults).",
        "Command-line flags (`--source`, `--symbol`, `--speed`, `--seed`) override both.",
        "An invalid value stops start-up with one line naming the setting and exit code 78.",
        "",
        "`LA_DATA_DIR` defaults to `$STATE_DIRECTORY` under systemd, else",
        "`$XDG_STATE_HOME/laptop-agents` (`~/.local/state/laptop-agents`).",
        "Fractions are fractions everywhere: `LA_RISK_PCT=0.01` means 1 %.",
        "",
        "`LA_STRATEGY` picks the strategy and `LA_STRATEGY_PARAMS` its parameters",
        "(docs/strategies.md). The Supervisor's settings, `LA_WARMUP_CANDLES` to",
        "`LA_MARKET_CAP_HEADROOM` except `LA_RISK_PCT`, are its parameters' defaults:",
        "`LA_STRATEGY_PARAMS` overrides them and other strategies ignore them. `LA_RISK_PCT`,",
        "the fees, `LA_SLIPPAGE_BPS`, `LA_LEVERAGE` and the caps are the account's rules that",
        "every strategy sizes against.",
        "",
        "This page is generated: `python -m laptop_agents.config_docs > docs/configuration.md`.",
        "",
        "| Variable | Default | Meaning |",
        "|---|---|---|",
    ]
    for name, field in Settings.model_fields.items():
        description = (field.description or "").replace("|", "\\|")
        lines.append(f"| `LA_{name.upper()}` | `{_default(name)}` | {description} |")
    return "\n".join(lines) + "\n"


def render_env_example() -> str:
    """The text of `.env.example`: every setting, its description and its default.

    Regenerate with `python -m laptop_agents.config_docs --env > .env.example` after adding a
    setting;
    tests/test_config.py fails when the file is out of date.
    """
    lines = [
        "# laptop-agents settings. Copy to .env (or set in the environment) and edit.",
        "# Every line shows the default; an invalid value stops start-up naming the setting.",
        "",
    ]
    for name, field in Settings.model_fields.items():
        if field.default_factory is not None:
            default = ""
            note = " Default: computed at start-up."
        else:
            value = field.default
            default = "" if value is None else str(value).lower() if isinstance(
                value, bool) else str(value)
            note = ""
        lines.append(f"# {field.description}{note}")
        # Unset-by-default settings stay commented so a copied file does not set them to "".
        prefix = "# " if default == "" else ""
        lines.append(f"{prefix}LA_{name.upper()}={default}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render_env_example() if "--env" in sys.argv[1:] else render_configuration_md())
