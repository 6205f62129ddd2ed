"""``python -m slitwise`` runs the command line."""

import sys

from slitwise.cli import main

sys.exit(main())
