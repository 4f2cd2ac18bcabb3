"""``plot``: DOT text from the analysis, rendered by Graphviz when it is installed."""

import os
import shutil
import sys

import pytest

import builder
from builder.diagram import to_dot
from conftest import run_cli


def test_dot_has_a_box_per_block_and_the_data_flow():
    dot = to_dot(builder.analyze(builder.load("lenet5")), depth=1)
    assert dot.count("[label=") == 9
    assert "<b>c3</b><br/>Sequence<br/>10x10x16<br/>1,516 params" in dot
    assert "n0 -> n1;" in dot and "n7 -> n8;" in dot


def plot(*args, env=None):
    return run_cli("plot", *args, env=env)


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_plot_png(tmp_path):
    out = plot("lenet5", "-o", str(tmp_path / "net.png"))
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "net.png").read_bytes()[:4] == b"\x89PNG"
    assert os.listdir(tmp_path) == ["net.png"]  # no temporary file left


def test_plot_without_graphviz_writes_dot_and_says_so(tmp_path):
    env = dict(os.environ, PATH=os.path.dirname(sys.executable))  # no 'dot' on this PATH
    out = plot("lenet5", "-o", str(tmp_path / "net.svg"), env=env)
    assert out.returncode == 0, out.stderr
    assert "Graphviz's 'dot' program is not installed" in out.stdout
    assert (tmp_path / "net.dot").read_text().startswith('digraph "lenet5"')
    assert not (tmp_path / "net.svg").exists()


def test_plot_bad_output(tmp_path):
    out = plot("lenet5", "-o", str(tmp_path / "net.jpg"))
    assert out.returncode == 2 and out.stderr.startswith("error: --output")
    out = plot("lenet5", "-o", str(tmp_path / "missing" / "net.png"))
    assert out.returncode == 2 and "cannot write" in out.stderr
