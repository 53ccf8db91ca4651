"""SQLite journal and crash recovery."""

from laptop_agents.storage.journal import Journal, JournalError

__all__ = ["Journal", "JournalError"]
