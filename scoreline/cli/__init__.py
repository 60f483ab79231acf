"""The ``scoreline`` command. Each area registers its commands from its own module."""

from __future__ import annotations

import typer

from scoreline.cli import data, monitor, replay, train


def build_app() -> typer.Typer:
    app = typer.Typer(help="Scoreline: sports predictions with their whole model lifecycle.", no_args_is_help=True)
    for module in (data, train, monitor, replay):
        module.register(app)
    return app


def main() -> None:
    build_app()()
