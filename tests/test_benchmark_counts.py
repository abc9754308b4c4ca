"""The counting benchmark (benchmarks/counts.py) counts each site's own work per chunk,
by layer, and the same every time."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.counts import LAYERS, OpcodeCounter, layer_of

ROOT = Path(__file__).resolve().parent.parent


def test_a_count_is_the_same_every_time():
    def work():
        return sum(i * i for i in range(100))

    with OpcodeCounter():  # the warm-up, traced as the benchmark's is
        work()
    counts = []
    for _ in range(2):
        with OpcodeCounter() as counter:
            work()
        counts.append(counter.by_layer())
    assert counts[0] == counts[1]
    assert counts[0]["total"] > 100


def test_code_is_counted_in_its_layer():
    assert layer_of("/x/chunked_upload/wire/bodies.py").startswith("app: wire")
    assert layer_of("/x/site-packages/django/db/models/base.py") == "Django: database"
    assert layer_of("/usr/lib/python3.11/io.py") == LAYERS[-1][0]


@pytest.mark.slow
def test_each_site_is_counted_by_layer():
    answer = subprocess.run(
        [sys.executable, "-m", "benchmarks.counts", "--chunk", "64KiB", "--chunks", "2",
         "--json"],
        cwd=ROOT, check=True, capture_output=True, text=True)
    sites = json.loads(answer.stdout)["sites"]
    for counts in sites.values():
        assert counts["total"] == sum(value for layer, value in counts.items() if layer != "total")
    assert all(sites["floor"][layer] == 0 for layer, _pattern in LAYERS if layer.startswith("app"))
    assert sites["bound"]["app: wire (parsing, dispatch, answers)"] > 0  # the app's parser
    assert sites["guarded"]["app: staging"] > 0 == sites["bound"]["app: staging"]  # the fence
    assert sites["ours"]["total"] > sites["guarded"]["total"] > sites["bound"]["total"]
    assert sites["bound"]["total"] > sites["floor"]["total"]
