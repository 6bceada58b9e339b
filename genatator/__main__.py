"""``python -m genatator``: the same entry point as the ``genatator`` command."""

import sys

from genatator.cli import main

sys.exit(main())
