"""``python -m chunked_upload.client``: the command line."""

import sys

from .cli import main

sys.exit(main())
