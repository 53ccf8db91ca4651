"""Real headless Chromium for the page tests: Debian's `chromium`, driven by Playwright."""

from __future__ import annotations

import os
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"  # screenshots
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
# Where the page tests also copy their screenshots when set (resolved at import, before the
# tests move to their tmp dirs: a relative path is relative to where pytest started).
SCREENSHOT_DIR = (Path(os.environ["LA_SCREENSHOT_DIR"]).resolve()
                  if os.environ.get("LA_SCREENSHOT_DIR") else None)
