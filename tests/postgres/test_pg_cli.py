"""The schema commands of the CLI on a PostgreSQL database that is behind.

An application store refuses to open below the latest schema; the CLI's schema
commands must still open it, or ``db upgrade`` could never run.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from convostore.cli import cli

pytestmark = pytest.mark.postgres


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_db_upgrade_brings_an_empty_schema_to_the_latest_version(pg_url: str, schema: str) -> None:
    url = f"{pg_url}?schema={schema}"
    code, out = _run("threads", "list", "--store", url)
    assert code == 5 and "db upgrade" in out  # the application path refuses

    code, out = _run("db", "status", "--store", url, "--json")
    assert code == 0, out
    before = json.loads(out)
    assert before["schema_version"] == 0 and not before["up_to_date"]

    code, out = _run("db", "upgrade", "--store", url, "--json")
    assert code == 0, out
    after = json.loads(out)
    assert after["applied"] and after["up_to_date"]
    assert after["schema_version"] == after["latest_version"]

    code, out = _run("threads", "list", "--store", url, "--json")
    assert code == 0, out
