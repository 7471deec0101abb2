"""The README cannot drift from the code: every command and every JSON field it must document is there,
and .ci/run runs the README's test command."""
from __future__ import annotations

import dataclasses
import re

from monitor.cli import build_parser
from monitor.report.webapp import ROUTES
from monitor.store import queries
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_command_is_in_the_readme() -> None:
    commands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for name in commands:
        assert re.search(rf"newsmon {name}\b", README), name


def test_every_json_field_is_documented() -> None:
    for record in (queries.ChangeRecord, queries.VersionRecord, queries.ArticleRecord, queries.History,
                   queries.VersionSummary, queries.TimelineEntry):
        for field in dataclasses.fields(record):
            assert f"`{field.name}`" in README, (record.__name__, field.name)


def test_every_route_of_the_web_app_is_in_the_readme() -> None:
    """Each route as the README writes it: `/articles/SITE/ID/diff`, `/timegate/URL`."""
    placeholders = {"site": "SITE", "key": "ID", "url": "URL", "stamp": "STAMP"}
    for pattern, name in ROUTES:
        if name == "asset":  # the stylesheet and icon the pages load: no one's address to know
            continue
        path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda group: placeholders[group[1]], pattern.pattern)
        path = path.removeprefix("^").removesuffix("$").replace("\\", "")
        assert f"`{path}" in README, (name, path)


def test_ci_runs_the_readme_test_command() -> None:
    block = re.search(r"<!-- test-command -->\n```\n(.+?)\n```", README, re.S)
    assert block and "pytest" in block[1]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "test-command" in ci and "bash -c" in ci
