"""A missing proxy toolchain never passes silently: CI fails, a local run skips, both
saying what to install."""

import pytest

from .toolchains import require


@pytest.mark.parametrize(("ci", "outcome"), [("true", pytest.fail.Exception),
                                             ("", pytest.skip.Exception)])
def test_a_missing_toolchain_says_how_to_install_it(monkeypatch, ci, outcome):
    monkeypatch.setenv("CI", ci)
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(outcome, match="apt-get install -y mono-devel"):
        require("Mono", "wsdl", "mcs", "mono")
