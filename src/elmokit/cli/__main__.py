"""``python -m elmokit.cli`` (also ``torchrun ... -m elmokit.cli train``): ``elmokit``."""

import sys

from elmokit.cli import main

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
