// The review queue's keyboard: a approve, r reject (1–8 pick a reason), n needs edit, e edit, j/k next/previous,
// t/d/x/u set the split, h history, ? help. Shortcuts are off while typing or editing.
(function () {
  "use strict";
  const SPLIT_KEYS = { t: "train", d: "dev", x: "test", u: "unassigned" };

  function panel() { return document.getElementById("review-panel"); }

  function press(key) {
    const button = panel()?.querySelector('[data-key="' + key + '"]');
    if (!button || button.disabled) return false;
    button.click();
    return true;
  }

  function openReasons() {
    const dialog = document.getElementById("reason-dialog");
    const opener = panel()?.querySelector("[data-open-reasons]");
    if (!dialog || !opener || opener.disabled) return;
    dialog.showModal();
    dialog.querySelector("input[name=reason]")?.focus();
  }

  function pickReason(dialog, digit) {
    const choices = dialog.querySelectorAll("input[name=reason]");
    const choice = choices[digit - 1];
    if (!choice) return;
    choice.checked = true;
    if (choice.value === "other") {
      dialog.querySelector("input[name=comment]").focus();
    } else {
      dialog.querySelector("form").requestSubmit();
    }
  }

  function setSplit(value) {
    const radio = panel()?.querySelector('input[name=split][value="' + value + '"]');
    if (!radio || radio.disabled || radio.checked) return;
    radio.checked = true;
    radio.dispatchEvent(new Event("change", { bubbles: true }));
  }

  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-open-reasons]")) openReasons();
    if (event.target.closest("[data-open-help]")) document.getElementById("help-dialog").showModal();
  });

  // While the panel is being replaced, a key press waits for the new panel instead of reaching a form that
  // htmx has not wired yet (which would submit it as a plain page).
  // A piece that loads itself in the background (data-background: the similar examples) never makes it wait.
  let busy = false;
  let pending = null;
  const background = (event) => event.target instanceof Element && event.target.closest("[data-background]");
  document.addEventListener("htmx:beforeRequest", function (event) { if (!background(event)) busy = true; });
  document.addEventListener("htmx:afterRequest", function (event) {
    if (!event.detail.successful && !background(event)) busy = false;
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    if (background(event)) return;
    busy = false;
    if (pending) {
      const key = pending;
      pending = null;
      handle(key);
    }
  });

  function handle(key) {
    let handled = true;
    if (key === "a" || key === "n" || key === "e" || key === "j" || key === "k" || key === "h") {
      handled = press(key);
    } else if (key === "r") {
      openReasons();
    } else if (key === "?") {
      document.getElementById("help-dialog").showModal();
    } else if (SPLIT_KEYS[key]) {
      setSplit(SPLIT_KEYS[key]);
    } else {
      handled = false;
    }
    return handled;
  }

  const SHORTCUTS = new Set(["a", "n", "e", "j", "k", "h", "r", "?", ...Object.keys(SPLIT_KEYS)]);

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const reasons = document.getElementById("reason-dialog");
    if (reasons && reasons.open) {
      if (/^[1-9]$/.test(event.key) && event.target.name !== "comment") {
        event.preventDefault();
        pickReason(reasons, Number(event.key));
      }
      return;
    }
    if (document.querySelector("dialog[open]") || window.lima.isTyping(event)) return;
    if (document.getElementById("edit-form")) return;
    if (!SHORTCUTS.has(event.key)) return;
    event.preventDefault();
    if (busy) {
      pending = event.key;
      return;
    }
    handle(event.key);
  });
})();
