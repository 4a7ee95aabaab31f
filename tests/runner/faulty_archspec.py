"""`archspec` with the faults of fault_injection installed: `python -m tests.runner.faulty_archspec
train SPEC ...`, run from the repository root, with the faults in the environment."""

import sys

from archspec_cli import main
from tests.runner import fault_injection

if __name__ == "__main__":
    fault_injection.install()
    sys.exit(main())
