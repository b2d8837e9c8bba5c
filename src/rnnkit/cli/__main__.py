"""``python -m rnnkit.cli ...`` (as ``torchrun -m rnnkit.cli train ...`` starts it): the ``rnnkit`` command."""

import sys

from .main import main

sys.exit(main())
