"""Every bad input of docs/bad-inputs.md gives exactly the message the page shows, and leaves
what it says untouched (each case checks that itself)."""
import os
import re

import pytest

from bad_input_cases import CASES, Workspace, normalise, render

PAGE = os.path.join(os.path.dirname(__file__), os.pardir, "docs", "bad-inputs.md")


def _documented() -> dict:
    rows = {}
    with open(PAGE, encoding="utf-8") as f:
        for line in f:
            found = re.match(r"\| \d+ \| [^|]+ \| .* \| `([a-z0-9-]+)`: (.*) \| ([^|]+) \|$", line.rstrip("\n"))
            if found:
                rows[found.group(1)] = (found.group(2).replace("\\|", "|"), found.group(3))
    return rows


def test_the_catalogue_holds_at_least_25_cases_and_the_page_lists_each_once():
    documented = _documented()
    assert len(CASES) >= 25
    assert sorted(documented) == sorted(c.key for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.key for c in CASES])
def test_bad_input_gives_the_documented_message(case, tmp_path, digits, tiny_bert_dir):
    getter = lambda: tiny_bert_dir  # noqa: E731
    getter.resolved = tiny_bert_dir
    ws = Workspace(str(tmp_path), digits, getter)
    message, kept = case.run(ws)
    text = normalise(message, ws)
    assert (text, kept) == _documented()[case.key]


def test_page_is_what_the_cases_render():
    """The page's text around the rows is the generator's (rows are checked one by one above)."""
    head = render([]).splitlines()
    with open(PAGE, encoding="utf-8") as f:
        assert f.read().splitlines()[:len(head)] == head
