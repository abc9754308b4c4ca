"""gunicorn settings for the integrity tests' demo servers.

Everything else (bind, workers, threads) is on the command line; this file
only installs the pause points of :mod:`tests.integrity.faults` in each
worker once the site is loaded.
"""

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def post_worker_init(worker):
    directory = os.environ.get("INTEGRITY_FAULTS_DIR")
    if directory:
        sys.path.insert(0, str(REPO))
        from tests.integrity import faults

        faults.install(directory)
