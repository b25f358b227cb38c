"""The ``convostore`` click group and the hook that routes every failure to
:mod:`convostore.cli.errors`.

Subcommands live one noun per module; this module only assembles them, so the
command tree reads in one place.
"""

from __future__ import annotations

from typing import Any

import click

from convostore.cli import errors
from convostore.cli._common import JSON_META, package_version


class Group(click.Group):
    """A click group whose invocations fail through the one CLI error handler.

    click's own usage errors (exit 2) and explicit exits pass through untouched;
    everything else, ``KeyboardInterrupt`` included, becomes one line on stderr
    and the exit code of :data:`convostore.cli.errors.EXIT_CODES`.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except (Exception, KeyboardInterrupt) as exc:
            code = errors.report(exc, as_json=bool(ctx.meta.get(JSON_META)))
            ctx.exit(code)

    def group(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("cls", Group)
        return super().group(*args, **kwargs)


@click.group(
    cls=Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
@click.version_option(
    version=package_version(), prog_name="convostore", message="%(prog)s %(version)s"
)
def cli() -> None:
    """Store, inspect and move LLM chat threads.

    Every command works on the store of --store URL or CONVOSTORE_URL (default: the
    SQLite file convostore.db in the working directory) and on the tenant of
    --tenant (default: "default"). Add --json (or --jsonl on listings) for output
    meant for programs. Exit codes are listed in the CLI reference (docs/cli.md).
    """


@cli.command()
@click.option(
    "--store",
    "store_url",
    metavar="URL",
    help="Store the demo thread in this store, and keep it there. [default: a "
    "temporary SQLite file, removed when the demo ends]",
)
@click.argument("url", metavar="[STORE_URL]", required=False)
def demo(store_url: str | None, url: str | None) -> None:
    """Run the guided demo: a short conversation stored and read back.

    The demo writes to a temporary store unless --store URL (or STORE_URL) is
    given; CONVOSTORE_URL is not read, so your own store is never touched.
    """
    from convostore.demo import run

    if store_url and url and store_url != url:
        raise click.UsageError("give the store once: --store URL or STORE_URL")
    target = store_url or url
    code = run([target] if target else [])
    if code:
        raise click.exceptions.Exit(code)


def _register() -> None:
    from convostore.cli import (
        db,
        doctor,
        keys,
        message_ops,  # noqa: F401 - adds its commands to messages
        messages,
        prune,
        search,
        serve,
        state,
        threads,
        transfer,
    )

    cli.add_command(threads.threads)
    cli.add_command(messages.messages)
    cli.add_command(state.state)
    cli.add_command(search.search)
    cli.add_command(transfer.export)
    cli.add_command(transfer.import_)
    cli.add_command(keys.keys)
    cli.add_command(db.db)
    cli.add_command(prune.prune)
    cli.add_command(doctor.doctor)
    cli.add_command(serve.serve)


_register()


def main(argv: list[str] | None = None) -> int:
    """Run the CLI on ``argv`` (default: ``sys.argv[1:]``) and return the exit code."""
    try:
        cli.main(args=argv, prog_name="convostore", standalone_mode=True)
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0
