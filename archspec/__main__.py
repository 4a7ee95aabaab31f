"""`python -m archspec ...` (also what torchrun launches with `-m archspec`)."""

import sys

from archspec.cli import main

sys.exit(main())
