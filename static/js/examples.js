// The examples table: picking rows (click, Shift+click for a range, the page's box, "all matching"), the action
// bar, and the keyboard — / search, j/k move, x select, Shift+X the page, o or Enter open, a approve, r reject
// (1–8 pick a reason), s split, g tag, n/p pages, Esc clear, ? help. Shortcuts are off while typing.
(function () {
  "use strict";

  function results() { return document.getElementById("examples-results"); }
  function checks() { return Array.from(results()?.querySelectorAll(".row-check") || []); }
  function rows() { return Array.from(results()?.querySelectorAll("tbody tr[data-id]") || []); }
  function scopeAll() { return document.getElementById("scope-all"); }
  let lastClicked = null;
  let focused = -1;

  function selectedCount() {
    if (scopeAll()?.checked) return Number(results().dataset.count || 1);
    return checks().filter(function (box) { return box.checked; }).length;
  }

  // The count, the bar's buttons and the page's box follow the selection.
  function refresh() {
    const root = results();
    if (!root) return;
    const all = scopeAll()?.checked;
    const boxes = checks();
    const picked = boxes.filter(function (box) { return box.checked; }).length;
    const label = document.getElementById("selection-count");
    const matching = root.dataset.countText ? root.dataset.countText + " " : "";
    const text = all ? "All " + matching + "matching" : picked ? picked + " selected" : "None selected";
    if (label) {
      label.textContent = text;
      label.classList.toggle("has-selection", Boolean(all || picked));
    }
    root.querySelectorAll("[data-bulk]").forEach(function (button) { button.disabled = !(all || picked); });
    const page = document.getElementById("select-page");
    if (page) {
      page.checked = all || (boxes.length > 0 && picked === boxes.length);
      page.indeterminate = !all && picked > 0 && picked < boxes.length;
    }
    boxes.forEach(function (box) { box.disabled = Boolean(all); if (all) box.checked = true; });
    root.querySelectorAll("[data-selection-label]").forEach(function (node) {
      node.textContent = all ? "all " + matching + "matching examples" : picked === 1 ? "this example" : "these " + picked + " examples";
    });
  }

  function setPage(checked) {
    checks().forEach(function (box) { box.checked = checked; });
    if (!checked && scopeAll()) scopeAll().checked = false;
    refresh();
  }

  document.addEventListener("click", function (event) {
    const box = event.target.closest(".row-check");
    if (box) {
      const boxes = checks();
      if (event.shiftKey && lastClicked && boxes.includes(lastClicked)) {
        const [from, to] = [boxes.indexOf(lastClicked), boxes.indexOf(box)].sort(function (a, b) { return a - b; });
        boxes.slice(from, to + 1).forEach(function (other) { other.checked = box.checked; });
      }
      lastClicked = box;
      focusRow(rows().indexOf(box.closest("tr")), false);
    }
    if (event.target.closest("#select-page")) setPage(event.target.checked);
    if (event.target.closest("[data-open-reject]")) openReject();
    if (event.target.closest("[data-open-help]")) document.getElementById("help-dialog").showModal();
    const toggle = event.target.closest("[data-toggle-filters]");
    if (toggle) {
      const shown = document.getElementById("examples-filters").classList.toggle("show-filters");
      toggle.setAttribute("aria-expanded", String(shown));
    }
    if (event.target.closest("[data-dismiss-report]")) document.getElementById("bulk-report").innerHTML = "";
  });
  document.addEventListener("change", function (event) {
    if (event.target.closest("#scope-all, .row-check")) refresh();
  });

  // Before an action leaves: a confirmation for what cannot be undone, and for "all matching".
  document.addEventListener("htmx:confirm", function (event) {
    const form = event.target.closest && event.target.closest("#bulk-form");
    if (!form || event.target !== form) return;
    const submitter = event.detail.triggerEvent && event.detail.triggerEvent.submitter;
    const question = submitter && submitter.dataset.confirmBulk;
    const all = scopeAll()?.checked;
    if (!question && !all) return;
    event.preventDefault();
    const label = submitter ? submitter.textContent.trim().replace(/\s+\S$/, "") : "Act on";
    const count = results().dataset.countText;
    const text = (question ? question + " " : "") + (all ? label + " all " + (count ? count + " " : "") + "matching examples?" : "");
    if (window.confirm(text.trim())) event.detail.issueRequest(true);
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    const dialog = document.getElementById("reject-dialog");
    if (dialog && dialog.open && event.target.id === "bulk-form") dialog.close();
  });

  function openReject() {
    const dialog = document.getElementById("reject-dialog");
    if (!dialog || !selectedCount()) return;
    refresh();
    dialog.showModal();
    dialog.querySelector("input[name=reason]")?.focus();
  }

  function focusRow(index, moveFocus) {
    const all = rows();
    if (!all.length) return;
    focused = Math.max(0, Math.min(index, all.length - 1));
    all.forEach(function (row, i) { row.classList.toggle("row-focus", i === focused); });
    if (moveFocus !== false) {
      const target = all[focused].querySelector(".row-check") || all[focused].querySelector("a");
      target?.focus({ preventScroll: true });
      all[focused].scrollIntoView({ block: "nearest" });
    }
  }

  function currentRow() {
    const all = rows();
    const active = document.activeElement && document.activeElement.closest && document.activeElement.closest("tbody tr[data-id]");
    if (active) return active;
    return focused >= 0 ? all[focused] : null;
  }

  function click(selector) {
    const target = results()?.querySelector(selector);
    if (target && !target.disabled) {
      // Swapped-in links get their htmx handlers only when the swap settles (~20 ms later): a key pressed
      // sooner would follow the plain href and reload the page.
      if (window.htmx && target.hasAttribute("hx-get")) htmx.process(target);
      target.click();
      return true;
    }
    return false;
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const reject = document.getElementById("reject-dialog");
    if (reject && reject.open) {
      if (/^[1-9]$/.test(event.key) && event.target.name !== "comment") {
        const choice = reject.querySelectorAll("input[name=reason]")[Number(event.key) - 1];
        if (choice) {
          event.preventDefault();
          choice.checked = true;
          if (choice.value === "other") reject.querySelector("input[name=comment]").focus();
          else reject.querySelector("button[value=reject]").click();
        }
      }
      return;
    }
    if (document.querySelector("dialog[open]")) return;
    const typing = window.lima.isTyping(event) && !(event.target.classList && event.target.classList.contains("row-check"));
    if (typing) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    const key = event.key;
    let handled = true;
    if (key === "/") {
      document.getElementById("examples-q")?.focus();
    } else if (key === "j" || key === "ArrowDown" && event.target.classList?.contains("row-check")) {
      focusRow(focused + 1);
    } else if (key === "k" || key === "ArrowUp" && event.target.classList?.contains("row-check")) {
      focusRow(focused <= 0 ? 0 : focused - 1);
    } else if (key === "x") {
      const row = currentRow();
      const box = row?.querySelector(".row-check");
      if (box && !box.disabled) { box.checked = !box.checked; lastClicked = box; refresh(); }
    } else if (key === "X") {
      setPage(!checks().every(function (box) { return box.checked; }));
    } else if (key === "o" || key === "Enter" && (event.target === document.body || event.target.classList?.contains("row-check"))) {
      const link = currentRow()?.querySelector(".row-link");
      if (link) window.location.href = link.href; else handled = false;
    } else if (key === "a") {
      handled = click("button[value=approve]");
    } else if (key === "r") {
      openReject();
    } else if (key === "s") {
      document.getElementById("bulk-split")?.focus();
    } else if (key === "g") {
      document.getElementById("bulk-tag")?.focus();
    } else if (key === "n") {
      handled = click('a[rel="next"]');
    } else if (key === "p") {
      handled = click('a[rel="prev"]');
    } else if (key === "Escape") {
      setPage(false);
    } else if (key === "?") {
      document.getElementById("help-dialog").showModal();
    } else {
      handled = false;
    }
    if (handled) event.preventDefault();
  });

  // New results: a fresh selection, the first row in focus when the keyboard was in the table.
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "examples-results" || event.target.id === "examples-results") {
      const wasInTable = focused >= 0;
      lastClicked = null;
      focused = -1;
      refresh();
      if (wasInTable && rows().length) focusRow(0);
    }
  });
  document.addEventListener("DOMContentLoaded", refresh);
})();
