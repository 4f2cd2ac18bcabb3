"""The README's example blueprint runs as printed."""

import os
import re

import builder

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")


def test_readme_example_blueprint_runs():
    text = open(README, encoding="utf-8").read()
    code = re.findall(r"```python\n(.*?)```", text, re.S)[0]
    scope = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert scope["model"].count_params() == builder.analyze(scope["blueprint"]).total_params


def test_the_library_table_lists_every_registered_blueprint():
    text = open(README, encoding="utf-8").read()
    table = text[text.index("## The library of classic networks"):text.index("## Command line")]
    missing = [name for name in builder.registry.names()
               if not re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", table)]
    assert not missing, f"not in the README's library table: {missing}"
