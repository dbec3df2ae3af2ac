"""axe-core, the accessibility engine, from the npm registry (pinned and checked), served to the page under test
from the test's own origin so the Content-Security-Policy (script-src 'self') lets it run unchanged."""

import base64
import hashlib
import shutil
import subprocess
import tarfile
from pathlib import Path

from django.conf import settings
from playwright.sync_api import Page, Route

VERSION = "4.10.3"
INTEGRITY = "sha512-Xm7bpRXnDSX2YE2YFfBk2FnF0ep6tmG7xPh8iHee8MIcrgq762Nkce856dYtJYLkuIoYZvGfTs/PbZhideTcEg=="
URL_PATH = "/__test__/axe.min.js"  # answered by the test's route, never by the portal
# WCAG 2.1 A and AA, as axe tags them.
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


class AxeUnavailable(RuntimeError):
    pass


def axe_script() -> Path:
    """axe.min.js of VERSION, fetched once with `npm pack` into var/ and checked against the registry's integrity."""
    cache = Path(settings.BASE_DIR) / "var" / "test-cache" / f"axe-core-{VERSION}"
    script = cache / "axe.min.js"
    if script.exists():
        return script
    npm = shutil.which("npm")
    if npm is None:
        raise AxeUnavailable("needs npm to fetch axe-core from the npm registry (`apt-get install -y npm`)")
    cache.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(  # noqa: S603 - a fixed command
        [npm, "pack", f"axe-core@{VERSION}", "--pack-destination", str(cache)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    tarball = cache / f"axe-core-{VERSION}.tgz"
    if done.returncode or not tarball.exists():
        raise AxeUnavailable(f"npm pack axe-core@{VERSION} failed: {done.stderr.strip()[-500:]}")
    digest = "sha512-" + base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    if digest != INTEGRITY:
        raise AxeUnavailable(f"axe-core {VERSION} from npm does not match its pinned integrity ({digest})")
    with tarfile.open(tarball) as archive:
        member = archive.extractfile("package/axe.min.js")
        if member is None:
            raise AxeUnavailable("the axe-core package has no axe.min.js")
        script.write_bytes(member.read())
    tarball.unlink()
    return script


def serve_axe(page: Page, script: Path) -> None:
    def fulfil(route: Route) -> None:
        route.fulfill(path=script, content_type="text/javascript")

    page.route(f"**{URL_PATH}", fulfil)


def serious_violations(page: Page) -> list[str]:
    """axe's serious and critical WCAG 2.1 A/AA violations on the page as it is now, one line per element."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.add_script_tag(url=URL_PATH)
    results = page.evaluate("(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}})", TAGS)
    return [
        f"{violation['impact']} {violation['id']}: {violation['help']} at {node['target']}"
        for violation in results["violations"]
        if violation["impact"] in {"serious", "critical"}
        for node in violation["nodes"]
    ]
