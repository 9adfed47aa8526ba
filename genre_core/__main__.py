"""Entry point for `python -m genre_core`."""

import sys

from .cli import main

sys.exit(main())
