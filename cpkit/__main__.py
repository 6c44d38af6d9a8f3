"""``python -m cpkit``: the same as the ``cpkit`` command."""

import sys

from cpkit.cli import main

sys.exit(main())
