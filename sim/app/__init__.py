"""``python -m sim app``: a local web page over the API, for the whole trial team.

Pick or upload a scenario, change the numbers a planner changes most, press Run, read the
answers (a preview first, then the full count) and take the run away (scenario YAML, results
zip, report, the command line and Python code that reproduce it). Built with Shiny for
Python; needs the ``app`` extra (``pip install -e '.[app]'``).

The server binds 127.0.0.1 unless ``--host`` says otherwise (then it warns): anyone who can
reach the port can run simulations on this machine.
"""

from __future__ import annotations

import argparse
import errno
import sys
from typing import Any

LOCALHOST = "127.0.0.1"


HELP = "a local web page: set up a scenario, run it, read the answers"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """--port, --host, --no-browser (for `main` and for the CLI's `app` subcommand)."""
    parser.add_argument("--port", type=int, default=8000, help="port to serve on (default 8000)")
    parser.add_argument(
        "--host",
        default=LOCALHOST,
        help=f"address to bind (default {LOCALHOST}: this machine only)",
    )
    parser.add_argument(
        "--no-browser", action="store_true", help="do not open a browser on the page"
    )


def register(subparsers: Any) -> None:
    """Add ``app`` to the ``python -m sim`` subcommands (as `sim.outputs.plots` adds plot)."""
    parser = subparsers.add_parser("app", help=HELP, description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.set_defaults(func=cmd_app)


def cmd_app(args: argparse.Namespace) -> int:
    if not 0 < args.port < 65536:
        print(f"error: --port {args.port}: must be from 1 to 65535, e.g. 8000", file=sys.stderr)
        return 2
    serve(host=args.host, port=args.port, open_browser=not args.no_browser)
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sim app", description=HELP)
    add_arguments(parser)
    args = parser.parse_args(argv)
    if not 0 < args.port < 65536:
        parser.error(f"--port {args.port}: must be from 1 to 65535, e.g. 8000")
    return args


def host_warning(host: str, port: int) -> str | None:
    """The warning line for a server reachable from other machines (None on 127.0.0.1)."""
    if host == LOCALHOST:
        return None
    return (
        f"warning: serving on {host}: anyone who can reach this machine on port {port} can "
        "run simulations and see this server's pages; use the default 127.0.0.1 unless "
        "you mean it"
    )


def check_address(host: str, port: int) -> str | None:
    """Why the server could not listen on `host`:`port` (a port in use, a host name that
    does not resolve or is not this machine's), in one line naming the option and a fix;
    None if it can. Tried here, before the server starts, so the user reads one line, not
    the server's log."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        return f"--host {host}: not an address of this machine ({error}); e.g. --host {LOCALHOST}"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return f"--port {port}: in use by another program; e.g. --port {port + 1}"
            return (
                f"--host {host} --port {port}: cannot listen there ({error.strerror}); "
                f"e.g. --host {LOCALHOST} --port {port}"
            )
    return None


def serve(*, host: str = LOCALHOST, port: int = 8000, open_browser: bool = True) -> None:
    """Serve the page until interrupted (Ctrl-C)."""
    try:
        import shiny
    except ImportError:
        raise SystemExit(
            "sim app needs Shiny for Python: pip install -e '.[app]' (or pip install shiny)"
        ) from None
    from sim.app.jobs import start_fork_server
    from sim.app.page import make_app

    warning = host_warning(host, port)
    if warning:
        print(warning, file=sys.stderr)
    start_fork_server()  # imports the API for the runs while the browser opens
    shiny.run_app(make_app(), host=host, port=port, launch_browser=open_browser, dev_mode=False)


def main(argv: list[str] | None = None) -> int:
    """`python -m sim app [--port P] [--host H] [--no-browser]`; returns the exit status."""
    args = parse_args(argv)
    problem = check_address(args.host, args.port)
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        serve(host=args.host, port=args.port, open_browser=not args.no_browser)
    except KeyboardInterrupt:
        return 130
    return 0
