"""Accessibility of the review page, measured in the browser: every control has an accessible name,
text meets WCAG AA contrast (4.5:1) against its real background, focus moves in reading order and
is visible, and status messages are announced (aria-live)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

NOTE = (
    "Assessment and plan:\n1. Essential hypertension.\n2. Hyperlipidemia.\n"
    "3. Type 2 diabetes mellitus with diabetic chronic kidney disease, CKD stage 3b.\n"
)

# For every visible control: its accessible name as the browser computes the simple cases (label
# elements, aria-label, aria-labelledby, title, text content, placeholder is NOT enough).
UNNAMED = """() => {
  const out = [];
  for (const el of document.querySelectorAll('input, select, textarea, button, a[href], [role=button], [tabindex]')) {
    if (el.type === 'hidden' || !(el.offsetWidth || el.offsetHeight)) continue;
    if (el.getAttribute('tabindex') === '-1' && !el.matches('input, select, textarea, button, a[href]')) continue;
    const byId = (el.getAttribute('aria-labelledby') || '').split(/\\s+/).filter(Boolean)
      .map(id => (document.getElementById(id) || {}).textContent || '').join(' ');
    const name = [el.getAttribute('aria-label'), byId, el.labels && [...el.labels].map(l => l.textContent).join(' '),
                  el.getAttribute('title'), el.matches('input, select, textarea') ? '' : el.textContent]
      .filter(Boolean).join(' ').trim();
    if (!name) out.push(el.outerHTML.slice(0, 120));
  }
  return out;
}"""

# WCAG 2 contrast of every visible text node's element against the first opaque background up its
# ancestors (the page's own backgrounds are solid colours).
LOW_CONTRAST = """() => {
  const parse = c => { const m = c.match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
    const p = m[1].split(',').map(Number); return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1}; };
  const lum = c => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
  const bg = el => { for (let e = el; e; e = e.parentElement) { const c = parse(getComputedStyle(e).backgroundColor);
    if (c && c.a >= 0.99) return c; } return {r: 255, g: 255, b: 255, a: 1}; };
  const seen = new Set(); const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const el = walker.currentNode.parentElement;
    if (!el || seen.has(el) || !walker.currentNode.textContent.trim()) continue;
    seen.add(el);
    if (!(el.offsetWidth || el.offsetHeight) || getComputedStyle(el).visibility === 'hidden') continue;
    const fg = parse(getComputedStyle(el).color), b = bg(el);
    const [hi, lo] = [lum(fg), lum(b)].sort((x, y) => y - x);
    const ratio = (hi + 0.05) / (lo + 0.05);
    const text = walker.currentNode.textContent.trim().slice(0, 40);
    if (ratio < 4.5) out.push(`${ratio.toFixed(2)}: ${el.tagName} "${text}"`);
  }
  return out;
}"""


def test_sign_in_page_is_labelled_in_order_and_legible(page, live_server):
    page.goto(live_server.base_url + "/")
    page.get_by_test_id("login-username").wait_for()
    assert page.evaluate(UNNAMED) == []
    assert page.evaluate(LOW_CONTRAST) == []
    assert page.locator("[aria-live]").count() >= 1
    # Tab from the top reaches username, password, then the submit button, in that order.
    page.get_by_test_id("login-username").focus()
    order = []
    for _ in range(2):
        page.keyboard.press("Tab")
        order.append(page.evaluate("() => document.activeElement.dataset.testid || document.activeElement.tagName"))
    assert order == ["login-password", "login-submit"]
    outline = page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement);"
        " return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0 || s.boxShadow !== 'none'; }"
    )
    assert outline, "the focused control shows no focus indicator"


def test_worklist_and_encounter_views_are_labelled_and_legible(page, live_server, users, api):
    coder = api(users["coder"])
    enc = coder.post("/v1/encounters", json={"text": NOTE, "payer": {"name": "Aetna"}}).json()
    page.goto(live_server.base_url + "/")
    page.get_by_test_id("login-username").fill(users["coder"].username)
    page.get_by_test_id("login-password").fill(users["coder"].password)
    page.get_by_test_id("login-submit").click()
    page.locator("[data-testid=worklist-row]").first.wait_for()
    assert page.evaluate(UNNAMED) == []
    assert page.evaluate(LOW_CONTRAST) == []
    page.locator(f'[data-testid=worklist-row][data-encounter-id="{enc["id"]}"]').click()
    page.locator("[data-testid=code-row]").first.wait_for()
    page.locator("[data-testid=evidence]").first.hover()  # highlighted evidence must stay legible
    assert page.evaluate(UNNAMED) == []
    assert page.evaluate(LOW_CONTRAST) == []
    # the reason picker is a labelled modal dialog
    page.locator("[data-testid=code-row]").first.click()
    page.keyboard.press("r")
    picker = page.get_by_test_id("reason-picker")
    picker.wait_for()
    dialog = page.locator("[role=dialog][aria-modal=true]")
    assert dialog.count() >= 1
    assert dialog.first.get_attribute("aria-labelledby") or dialog.first.get_attribute("aria-label")
    assert page.evaluate(UNNAMED) == []
    page.keyboard.press("Escape")
    picker.wait_for(state="hidden")
