"""The browser half of binder/check.sh: open the Binder URL in headless Chromium and use the
chat panel the way a newcomer would.

Reuses the browser tests' helpers (tests/browser/lab_helpers.py, lab_server.py) and runs
with a Python that has playwright (never ``playwright install``: Debian's chromium is used).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

TIMEOUT = 90_000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True, help="the server's base URL, ending in /")
    parser.add_argument("--token", required=True)
    parser.add_argument("--urlpath", required=True, help="Binder's urlpath, e.g. lab/tree/x.ipynb")
    parser.add_argument("--repo", required=True, type=Path)
    parser.add_argument("--screenshot-dir", type=Path, default=Path("."))
    args = parser.parse_args()

    sys.path[:0] = [str(args.repo / "tests" / "browser"), str(args.repo)]
    from lab_helpers import (
        assistant_messages,
        message_text,
        open_panel,
        panel,
        send,
        wait_finished,
        wait_model_listed,
        wait_streaming,
    )
    from lab_server import CHROMIUM, CHROMIUM_ARGS
    from playwright.sync_api import sync_playwright

    from jupyter_deltachat.models.demo import WELCOME

    notebook = args.urlpath.rsplit("/", 1)[-1]
    started = time.monotonic()

    def say(text: str) -> None:
        print(f"    [{time.monotonic() - started:5.1f} s] {text}", flush=True)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(TIMEOUT)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        try:
            # What the badge opens: <server>/<urlpath>, here with the token Binder's hub
            # would otherwise supply through its cookie.
            page.goto(f"{args.url}{args.urlpath}?token={args.token}", timeout=TIMEOUT)
            page.wait_for_selector("#jp-main-dock-panel")
            page.locator(".lm-TabBar-tab.lm-mod-current", has_text=notebook).first.wait_for()
            page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell").first.wait_for()
            page.locator(".jp-NotebookPanel [data-status='idle']").first.wait_for(state="attached")
            say(f"{notebook} is open and its kernel is idle")

            open_panel(page)
            panel(page).locator(
                ".jp-DeltaChat-status[data-state='ready']", has_text=notebook
            ).wait_for()
            say("the chat panel is attached to the notebook's kernel")

            send(page, "Hello", model="demo")
            wait_streaming(page)
            say("the demo reply is streaming")
            reply = wait_finished(page)
            assert reply.get_attribute("data-finish-reason") == "stop"
            heading = WELCOME.split("\n", 1)[0].lstrip("# ").strip()
            assert reply.locator("h2").first.inner_text() == heading
            say("the demo reply finished and rendered")

            # Run the whole notebook in the page, as a visitor would (Run > Run All Cells).
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
            page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
            page.wait_for_function(
                """() => {
                  const prompts = [...document.querySelectorAll(
                    '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt')];
                  return prompts.length > 0 &&
                    prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
                }""",
                timeout=TIMEOUT,
            )
            failed = page.locator(
                ".jp-NotebookPanel .jp-OutputArea-output[data-mime-type="
                "'application/vnd.jupyter.stderr']"
            )
            assert failed.count() == 0, "a cell wrote to stderr:\n" + "\n".join(
                failed.all_inner_texts()
            )
            say("every cell of the notebook ran without errors")

            # The notebook's %chat exchange is in the sidebar's default chat too.
            panel(page).locator(
                "[data-role='user']", has_text="hello from a notebook cell"
            ).wait_for()
            # The notebook's five-line model is in the sidebar's picker and answers there.
            wait_model_listed(page, "reverse")
            count = assistant_messages(page).count()
            send(page, "one two three", model="reverse")
            reply = wait_finished(page, count=count + 1)
            assert message_text(page, reply) == "three two one", message_text(page, reply)
            say("the notebook's 'reverse' model answered in the sidebar")
            assert not errors, f"errors in the page: {errors}"
        except BaseException:
            shot = args.screenshot_dir / "binder-check-failure.png"
            page.screenshot(path=str(shot))
            print(f"screenshot: {shot}; page errors: {errors}", file=sys.stderr)
            raise
        finally:
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
