"""`python -m archspec ...` (also what torchrun launches with `-m archspec`).

The one module of the language package that imports the command line above it: it is the
entry point, never imported by anything.
"""

import sys

from archspec_cli import main

sys.exit(main())
