"""End-to-end tests in headless Chromium (Debian package) driven by Playwright.

Screenshots go to a temporary directory whose path is printed (``pytest -s`` shows it).
"""

from __future__ import annotations

import threading

import pytest
from astropy.table import Table

VIEW = {"width": 1400, "height": 1000}


def _open_source(page, live, sid: str):
    page.goto(f"{live.base}/source/{sid}")
    page.wait_for_selector('body[data-ready="1"]', timeout=20000)


def _markers(page) -> dict[str, float]:
    return {m["name"]: m["x"] for m in page.evaluate("SWInspect.markers()")}


def test_overview_source_markers_grade_reload(chromium, live, shots):
    context = chromium.new_context(viewport=VIEW)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(live.base + "/")
    page.wait_for_load_state("networkidle")
    assert page.locator("#sources tbody tr[data-href]").count() == 8
    page.screenshot(path=shots / "01_overview.png")
    print(f"\nscreenshots in {shots}")

    # open a source from the overview
    page.click("a.source-link >> text=1001")
    page.wait_for_selector('body[data-ready="1"]', timeout=20000)
    assert page.inner_text("#source-name") == "1001"
    z0 = page.evaluate("SWInspect.getZ()")
    assert z0 == pytest.approx(live.index.sources["1001"].z_auto, abs=1e-9)
    before = _markers(page)
    assert "Hα" in before and "[O III]" in before
    page.screenshot(path=shots / "02_source.png", full_page=True)

    # type a new redshift: every marker moves to rest * (1 + z) on the wavelength axis
    z1 = round(z0 - 0.3, 4)
    page.fill("#z-input", str(z1))
    after = _markers(page)
    expected = page.evaluate(f"SWInspect.plot.xToPx(6564.61 * (1 + {z1}) / 1e4)")
    assert after["Hα"] == pytest.approx(expected, abs=0.02)  # markers are written to 0.01 px
    assert before["Hα"] - after["Hα"] > 20  # lower z: the marker moved left, visibly
    # the slider and the keyboard nudge move them too
    page.locator("#z-slider").evaluate(
        "(el, v) => { el.value = v; el.dispatchEvent(new Event('input')); }", str(z0))
    assert page.input_value("#z-input") == f"{z0:.4f}"
    assert _markers(page)["Hα"] == pytest.approx(before["Hα"], abs=0.02)
    page.click("#spec-canvas", position={"x": 5, "y": 5})  # focus the page, not an input
    page.keyboard.press("]")
    assert page.evaluate("SWInspect.getZ()") == pytest.approx(z0 + 0.001 * (1 + z0))
    assert _markers(page)["Hα"] > before["Hα"]
    page.screenshot(path=shots / "03_markers_moved.png")

    # zoom with the wheel: the x range shrinks and the 2D panel follows the same axis
    box = page.locator("#spec-canvas").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    span0 = page.evaluate("SWInspect.plot.view.x1 - SWInspect.plot.view.x0")
    for _ in range(4):
        page.mouse.wheel(0, -200)
    span1 = page.evaluate("SWInspect.plot.view.x1 - SWInspect.plot.view.x0")
    assert span1 < 0.7 * span0
    page.screenshot(path=shots / "04_zoomed.png")

    # grade with the keyboard: no inspector name yet -> refused, nothing stored
    page.keyboard.press("2")
    page.wait_for_selector("#save-status.error")
    assert live.store.counts()["history"] == 0
    page.fill("#inspector", "ana")
    page.click("#spec-canvas", position={"x": 5, "y": 5})
    page.keyboard.press("2")
    page.wait_for_selector("#save-status.ok")
    (rec,) = live.store.grades("1001")
    assert (rec.inspector, rec.grade) == ("ana", 2)
    assert rec.z_vi == pytest.approx(page.evaluate("SWInspect.getZ()"), abs=1e-5)

    # reload: the grade is still there and shown as this inspector's
    page.reload()
    page.wait_for_selector('body[data-ready="1"]')
    assert page.get_attribute("body", "data-grade") == "2"
    assert page.locator(".grade-btn.g2.active").count() == 1
    assert page.evaluate("SWInspect.getZ()") == pytest.approx(rec.z_vi, abs=1e-5)
    page.screenshot(path=shots / "05_graded_reloaded.png", full_page=True)

    # next source with the keyboard, then back on the overview the grade is listed
    page.keyboard.press("n")
    page.wait_for_selector('body[data-source="1002"][data-ready="1"]')
    page.goto(live.base + "/?grade=2")
    assert page.locator("#sources tbody tr[data-href]").count() == 1
    assert errors == []
    context.close()


def test_two_inspectors_grade_at_the_same_time(chromium, live, shots):
    contexts = [chromium.new_context(viewport=VIEW) for _ in range(2)]
    pages = [c.new_page() for c in contexts]
    plan = [("ana", ["1003", "1004", "1005"]), ("ben", ["1006", "1007", "1005"])]
    for page, (who, _) in zip(pages, plan, strict=True):
        page.goto(live.base + "/")
        page.evaluate(f"localStorage.setItem('slitwise.inspector', '{who}')")
    # step both browsers together: both press their grade key before either waits
    for step in range(3):
        for page, (_, sources) in zip(pages, plan, strict=True):
            _open_source(page, live, sources[step])
        for k, page in enumerate(pages):
            page.click("#spec-canvas", position={"x": 5, "y": 5})
            page.keyboard.press(str(3 - k))
        for page in pages:
            page.wait_for_selector("#save-status.ok", timeout=20000)
    pages[1].screenshot(path=shots / "06_second_inspector.png", full_page=True)
    got = {(g.source_id, g.inspector, g.grade) for g in live.store.grades()}
    assert got == {("1003", "ana", 3), ("1004", "ana", 3), ("1005", "ana", 3),
                   ("1006", "ben", 2), ("1007", "ben", 2), ("1005", "ben", 2)}  # fmt: skip
    assert live.store.counts()["history"] == 6
    for c in contexts:
        c.close()


def test_api_writes_from_many_threads_and_a_browser(chromium, live):
    """A browser grades while 4 threads post 25 grades each through HTTP: nothing is lost."""
    context = chromium.new_context(viewport=VIEW)
    page = context.new_page()
    page.goto(live.base + "/")
    page.evaluate("localStorage.setItem('slitwise.inspector', 'cleo')")
    _open_source(page, live, "1008")

    def hammer(k: int) -> None:
        for i in range(25):
            live.grade("1002", i % 5 - 1, inspector=f"bot{k}", comment=str(i))

    threads = [threading.Thread(target=hammer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    page.click("#spec-canvas", position={"x": 5, "y": 5})
    page.keyboard.press("x")
    for t in threads:
        t.join()
    page.wait_for_selector("#save-status.ok")
    assert live.store.counts() == {"grades": 5, "history": 101}
    assert {g.inspector: g.grade for g in live.store.grades("1008")} == {"cleo": -1}
    context.close()


def test_export_ecsv_download(chromium, live, shots, tmp_path):
    live.grade("1001", 3, z_vi=4.5, comment="two lines")
    context = chromium.new_context(viewport=VIEW, accept_downloads=True)
    page = context.new_page()
    page.goto(live.base + "/")
    with page.expect_download() as info:
        page.click("#export-link")
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(path)
    assert path.name.endswith("_grades.ecsv")
    table = Table.read(path, format="ascii.ecsv")
    assert list(table["source_id"]) == ["1001"] and table["grade"][0] == 3
    assert table["z_vi"][0] == pytest.approx(4.5) and table["comment"][0] == "two lines"
    page.screenshot(path=shots / "07_overview_graded.png")
    context.close()
