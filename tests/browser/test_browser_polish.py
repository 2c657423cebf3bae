"""How the panel says a reply ended: stopped, cut at the token limit, or failed (a
wrapping, readable error box with the model's traceback), in light and dark."""

from __future__ import annotations

from pathlib import Path

from lab_helpers import (
    assistant_messages,
    new_notebook,
    panel,
    run_cell,
    send,
    use_theme,
    wait_finished,
    wait_model_listed,
    wait_streaming,
)

SCREENS = Path(__file__).parent / "artifacts" / "polish"  # git-ignored; looked at by hand

MODELS = """
import jupyter_deltachat as dc
from jupyter_deltachat.stop import pause

@dc.register("slow")
def slow(messages, config):
    for i in range(400):
        yield f"w{i} "
        if pause(0.025):
            return

@dc.register("verbose")
def verbose(messages, config):
    yield "so much to say"
    yield dc.Finish("length")

@dc.register("failing")
def failing(messages, config):
    url = "https://inference.example.org/" + "very-long-path-segment/" * 12 + "v1/chat"
    raise ConnectionError(f"could not reach {url}")
    yield ""
"""

LONG_URL = "https://inference.example.org/" + "very-long-path-segment/" * 12 + "v1/chat"

CLICK_STOP = """() => {
  // Click Stop and read the button in the same task: no event can arrive in between.
  const stop = document.querySelector('#jupyter-deltachat-panel button[aria-label="Stop"]');
  stop.click();
  return [stop.textContent, stop.dataset.stopping];
}"""

CONTRAST = """box => {
  // WCAG contrast ratio of the box's text on its background (computed colours).
  const rgba = text => text.match(/[\\d.]+/g).map(Number);
  const style = getComputedStyle(box);
  const [br, bg, bb, ba = 1] = rgba(style.backgroundColor);
  if (ba !== 1) throw new Error('translucent background ' + style.backgroundColor);
  const [fr, fg, fb, fa = 1] = rgba(style.color);
  const blend = (f, b) => f * fa + b * (1 - fa);
  const lum = ([r, g, b]) => {
    const c = v => (v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    return 0.2126 * c(r) + 0.7152 * c(g) + 0.0722 * c(b);
  };
  const text = lum([blend(fr, br), blend(fg, bg), blend(fb, bb)]);
  const back = lum([br, bg, bb]);
  return (Math.max(text, back) + 0.05) / (Math.min(text, back) + 0.05);
}"""


def dark(page) -> None:
    """Switch to the dark theme and wait until the panel is drawn with it."""
    use_theme(page, "JupyterLab Dark")
    page.wait_for_function(
        """() => getComputedStyle(document.querySelector('#jupyter-deltachat-panel'))
            .backgroundColor.match(/\\d+/g).slice(0, 3).reduce((a, b) => a + +b, 0) < 3 * 96"""
    )


def light(page) -> None:
    use_theme(page, "JupyterLab Light")


def shot(page, name: str) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / name))


def define_models(page) -> None:
    new_notebook(page)
    run_cell(page, MODELS)
    wait_model_listed(page, "failing")


def test_stopped_and_cut_off_replies_say_so(page):
    define_models(page)
    send(page, "go", model="slow")
    wait_streaming(page).locator("p", has_text="w3 ").wait_for()
    assert page.evaluate(CLICK_STOP) == ["Stopping…", "true"]
    stop = panel(page).locator("button[aria-label='Stop']")
    reply = wait_finished(page)
    assert reply.get_attribute("data-finish-reason") == "cancelled"
    assert reply.locator(".jp-DeltaChat-ending").inner_text() == "Stopped"
    assert stop.is_hidden()
    assert stop.get_attribute("data-stopping") == "false"
    shot(page, "stopped-light.png")
    dark(page)
    try:
        shot(page, "stopped-dark.png")
    finally:
        light(page)

    send(page, "more", model="verbose")
    cut = wait_finished(page, 2)
    assert cut.get_attribute("data-finish-reason") == "length"
    assert cut.locator(".jp-DeltaChat-ending").inner_text() == "Cut off at the token limit"
    stopped = assistant_messages(page).first
    assert stopped.locator(".jp-DeltaChat-ending").inner_text() == "Stopped"


def check_error_box(page, theme: str) -> None:
    box = panel(page).locator("[data-role='assistant'] .jp-DeltaChat-error").last
    box.wait_for()
    ratio = box.evaluate(CONTRAST)
    assert ratio >= 4.5, f"{theme}: error text contrast {ratio:.2f}:1"
    limit = panel(page).bounding_box()
    for part in (box, box.get_by_role("button", name="Retry")):
        area = part.bounding_box()
        assert (
            area["x"] >= limit["x"] and area["x"] + area["width"] <= limit["x"] + limit["width"]
        ), f"{theme}: {area} is not inside the panel {limit}"


def test_error_box_wraps_is_readable_and_keeps_the_traceback(page):
    define_models(page)
    send(page, "go", model="failing")
    box = panel(page).locator("[data-role='assistant'] .jp-DeltaChat-error").last
    box.wait_for()
    assert box.locator(".jp-DeltaChat-errorText").inner_text() == (
        f"The model raised an error. ConnectionError: could not reach {LONG_URL}"
    )
    details = box.locator("details.jp-DeltaChat-traceback")
    assert details.get_attribute("open") is None
    assert details.locator("summary").inner_text() == "Traceback"
    assert details.locator("pre").is_hidden()
    details.locator("summary").click()
    traceback = details.locator("pre").inner_text().splitlines()
    assert len(traceback) == 2, traceback
    assert traceback[0].startswith('  File "') and traceback[0].endswith(", in failing")
    assert traceback[1] == '    raise ConnectionError(f"could not reach {url}")'
    assert details.locator("pre *").count() == 0
    check_error_box(page, "light")
    shot(page, "error-light.png")
    dark(page)
    try:
        check_error_box(page, "dark")
        shot(page, "error-dark.png")
    finally:
        light(page)
