"""``python -m scoreline_trainer``: serve the trainer on ``SCORELINE_TRAINER_HOST:SCORELINE_TRAINER_PORT``."""

from __future__ import annotations

from scoreline_kit.app import serve

from scoreline_trainer.settings import TrainerSettings


def main() -> None:
    settings = TrainerSettings()
    serve("scoreline_trainer.app:create_app", settings.trainer_host, settings.trainer_port)


if __name__ == "__main__":
    main()
