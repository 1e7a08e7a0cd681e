"""``python -m offline <stack>``: the offline render (offline/render.py)."""

import sys

from offline.render import main

sys.exit(main())
