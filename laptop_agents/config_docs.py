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


if __name__ == "__main__":
    sys.stdout.write(render_configuration_md())
