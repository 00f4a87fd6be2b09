"""axe-core in the browser tests: the engine (axe-playwright-python bundles axe-core's script,
no CDN) runs on the page as it stands; serious or critical violations fail the test with the
rule, its help text and the first offending elements."""

from __future__ import annotations

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

BLOCKING = ("serious", "critical")
_axe = Axe()


def axe_violations(page: Page) -> list[str]:
    results = _axe.run(page, options={"resultTypes": ["violations"]})
    found = []
    for violation in results.response.get("violations", []):
        if violation.get("impact") in BLOCKING:
            targets = [", ".join(node.get("target", [])) for node in violation.get("nodes", [])[:3]]
            found.append(f"{violation['id']} ({violation['impact']}): {violation['help']} — {'; '.join(targets)}")
    return found


def assert_accessible(page: Page) -> None:
    problems = axe_violations(page)
    assert not problems, f"{page.url}:\n" + "\n".join(problems)
