"""The bundled study configs, one TOML per category; installed as `promptopt.studies` (see pyproject.toml)."""
