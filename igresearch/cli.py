"""The ``igresearch`` command: wiring only (parse options, call the library, print)."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import click

from . import __version__
from .client import CHANNELS
from .errors import IgResearchError, InvalidURLError

EXIT_OK, EXIT_API_ERROR, EXIT_BAD_INPUT = 0, 1, 2

channel_option = click.option(
    "--channel",
    type=click.Choice(CHANNELS),
    default="apify",
    show_default=True,
    help="Upstream provider the API should use.",
)
base_url_option = click.option(
    "--base-url",
    envvar="MEMORIES_BASE_URL",
    default=None,
    help="API base URL (default: $MEMORIES_BASE_URL, else the vendor's).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="igresearch")
def main() -> None:
    """Instagram video metadata for research, from the memories.ai API.

    The API key is read from the MEMORIES_API_KEY environment variable.
    """


@main.command()
@click.argument("url")
@channel_option
@base_url_option
def fetch(url: str, channel: str, base_url: str | None) -> None:
    """Fetch one post's metadata (one paid request) and print the response JSON.

    URL is any Instagram post, reel or TV URL, or a bare shortcode.
    """
    from .client import Client

    try:
        with Client(channel=channel, base_url=base_url) as client:
            envelope = client.video_metadata(url)
    except IgResearchError as error:
        _fail(error)
    _print_json(envelope)


@main.command()
def demo() -> None:
    """Offline demo: fetch the documented example reel from the fake API on 127.0.0.1."""
    from .client import Client
    from .testing import FakeAPI

    with FakeAPI() as api, Client("demo-key", base_url=api.base_url) as client:
        click.echo(f"Fake API (no network, no key needed) at {api.base_url}", err=True)
        envelope = client.video_metadata("https://www.instagram.com/reels/DLlGZiCOBQ0/")
    _print_json(envelope)


def _print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _fail(error: IgResearchError) -> NoReturn:
    """Print the error and exit: 2 for bad input, 1 for a failed API call."""
    click.echo(f"Error: {error}", err=True)
    if isinstance(error, InvalidURLError):
        sys.exit(EXIT_BAD_INPUT)
    sys.exit(EXIT_API_ERROR)
