"""`python -m laptop_agents` is the same as the `laptop-agents` command."""

from laptop_agents.cli import entrypoint

if __name__ == "__main__":
    entrypoint()
