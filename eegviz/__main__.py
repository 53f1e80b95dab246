"""`python -m eegviz ...` (what `torchrun -m eegviz train ...` runs on every rank)."""

import sys

from eegviz.cli import main

sys.exit(main())
