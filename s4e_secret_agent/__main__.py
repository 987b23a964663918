"""Allows ``python -m s4e_secret_agent``."""

import sys

from s4e_secret_agent.cli import main

sys.exit(main())
