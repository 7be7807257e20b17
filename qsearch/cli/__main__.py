"""``python -m qsearch.cli``."""

import sys

from qsearch.cli import main

sys.exit(main())
