"""What the tests share: waiting for a condition, a real daemon process, simulator settings."""
