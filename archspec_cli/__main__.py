"""`python -m archspec_cli ...`, the same as the `archspec` command."""

import sys

from archspec_cli import main

sys.exit(main())
