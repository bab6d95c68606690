"""The one source of truth for the version: pyproject, the CLI, About and history read it."""

__version__ = "0.1.0"
