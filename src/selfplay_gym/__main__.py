"""``python -m selfplay_gym``: the ``selfplay-gym`` command line (see :mod:`selfplay_gym.cli`)."""

from selfplay_gym.cli import main

raise SystemExit(main())
