"""The model picker's groups come from the kernel's provider table, not a copy in the panel."""

from __future__ import annotations

from lab_helpers import panel

from jupyter_deltachat.models.spec import PROVIDERS

MODEL_PICKER = "select[aria-label='Model']"


def test_model_picker_groups_carry_the_kernels_provider_labels(page):
    groups = panel(page).locator(f"{MODEL_PICKER} optgroup")
    labels = groups.evaluate_all("groups => groups.map(group => group.label)")
    assert labels == ["Built in", *(spec.label for spec in PROVIDERS.values())]
    add_key = panel(page).locator(f"{MODEL_PICKER} option[value='add-key:google']")
    assert add_key.text_content() == "Add key for Google Gemini…"
    set_url = panel(page).locator(f"{MODEL_PICKER} option[value='add-key:ollama']")
    assert set_url.text_content() == "Set URL for Ollama…"
