"""``python -m msdm_tutorial.cli …``: the ``msdm`` command without its console script."""

import sys

from . import main

sys.exit(main())
