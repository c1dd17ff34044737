"""Keyboard helpers the browser tests share: find code rows, read the selection, and move it with
j/k the way a coder does (focus on the code list, never in a text field)."""

from __future__ import annotations


def row(page, code: str, state: str | None = None):
    sel = f'[data-testid=code-row][data-code="{code}"]'
    if state:
        sel += f'[data-state="{state}"]'
    return page.locator(sel)


def selected_code(page) -> str | None:
    return page.evaluate(
        """() => {
          const r = document.querySelector('[data-testid=code-row][aria-selected=true]');
          return r ? r.dataset.code : null;
        }"""
    )


def keys_to_codes(page) -> None:
    """Shortcuts must not land in a text field: leave any field, then put focus on the code list."""
    page.evaluate(
        """() => {
          const a = document.activeElement;
          if (a && (a.matches('input, textarea, select') || a.isContentEditable)) a.blur();
          // The row itself, or the list holding it (a listbox with aria-activedescendant), if focusable.
          let el = document.querySelector('[data-testid=code-row][aria-selected=true]')
                || document.querySelector('[data-testid=code-row]');
          while (el && el.tabIndex < 0) el = el.parentElement;
          if (el && el !== document.body) el.focus();
        }"""
    )


def select_with_keys(page, code: str) -> None:
    """Moves the selection to `code` with j (down) and k (up) only."""
    codes = page.locator("[data-testid=code-row]").evaluate_all("rows => rows.map(r => r.dataset.code)")
    assert code in codes, f"{code} is not among the code rows {codes}"
    keys_to_codes(page)
    for _ in range(2 * len(codes) + 2):
        current = selected_code(page)
        if current == code:
            return
        key = "j" if current is None or codes.index(current) < codes.index(code) else "k"
        page.keyboard.press(key)
        page.wait_for_function(
            "prev => { const r = document.querySelector('[data-testid=code-row][aria-selected=true]');"
            " return (r ? r.dataset.code : null) !== prev; }",
            arg=current,
        )
    raise AssertionError(f"j/k never selected {code}; selected: {selected_code(page)}")
