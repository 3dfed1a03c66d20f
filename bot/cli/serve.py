"""``advocacy serve``: the bot's HTTP server, delivery worker and digest scheduler."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket

import click
from aiohttp import web

from bot import __version__
from bot.app import open_application
from bot.cli.runtime import cli_settings, configure_logging, fail_on_domain_error
from bot.config import DEFAULT_HOST, DEFAULT_PORT
from bot.connection_guard import ConnectionGuard, GuardedSite, plan_connections
from bot.http_limits import BodyLimits, server_options
from bot.storage.database import describe_database_url
from bot.web import build_web_app

log = logging.getLogger("advocacy.serve")


@click.command()
@click.option(
    "--host",
    default=None,
    show_default=f"ADVOCACY_HOST, else {DEFAULT_HOST}",
    help="Interface to listen on; 0.0.0.0 for every interface (in a container).",
)
@click.option(
    "--port",
    default=None,
    show_default=f"PORT, else {DEFAULT_PORT}",
    type=click.IntRange(0, 65535),
    help="TCP port (3978 is the Bot Framework convention).",
)
@click.option(
    "--no-scheduler",
    is_flag=True,
    help="Never run the scheduler here (another instance does); deliveries still drain.",
)
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, no_scheduler: bool) -> None:
    """Run the bot: chat endpoints, /healthz, /metrics, the outbox worker and the scheduler."""
    settings = cli_settings()
    # Read with the other settings, so that ADVOCACY_HOST and PORT in .env count too.
    host = host or settings.host
    port = settings.port if port is None else port
    configure_logging("DEBUG" if ctx.obj.get("verbose") else settings.log_level)

    async def main() -> None:
        log.info(
            "advocacy %s starting; database %s",
            __version__,
            describe_database_url(settings.database_url),
        )
        check_port_free(host, port)
        async with open_application(settings) as application:
            application.log_adapters()
            app = build_web_app(application, run_scheduler=not no_scheduler)
            limits = plan_connections(settings)
            log.info(
                "HTTP limits: %s; %s",
                limits.describe(),
                BodyLimits.from_settings(settings).describe(),
            )
            runner = web.AppRunner(app, access_log=None, **server_options(limits))
            await runner.setup()
            site = GuardedSite(runner, host, port, ConnectionGuard(limits))
            try:
                await site.start()
            except OSError as error:
                await runner.cleanup()
                raise click.ClickException(
                    f"cannot listen on {host}:{port}: {error.strerror}; choose another --port"
                ) from None
            # runner.addresses has the real port when --port 0 asked the system for a free one.
            shown = ", ".join(f"http://{a[0]}:{a[1]}" for a in runner.addresses)
            log.info(
                "listening on %s (scheduler %s)",
                shown,
                "off: --no-scheduler" if no_scheduler else "on whichever instance holds the lock",
            )
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, stop.set)
            await stop.wait()
            log.info("shutting down")
            await runner.cleanup()

    with fail_on_domain_error():
        asyncio.run(main())


def check_port_free(host: str, port: int) -> None:
    """Refuse a port another process holds before anything starts: the scheduler and its jobs
    (escalation flags, feed polling) must not run for a server that then cannot listen."""
    if port == 0:
        return
    try:
        socket.create_server((host, port)).close()
    except OSError as error:
        raise click.ClickException(
            f"cannot listen on {host}:{port}: {error.strerror}; choose another --port"
        ) from None


def register(root: click.Group) -> None:
    root.add_command(serve)
