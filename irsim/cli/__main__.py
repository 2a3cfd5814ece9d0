"""`python -m irsim.cli` runs the command line."""

import sys

from irsim.cli.app import main

sys.exit(main())
