"""`python -m irsim` runs the command line."""

import sys

from irsim.cli.app import main

sys.exit(main())
