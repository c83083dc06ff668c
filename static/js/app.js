// Shared behaviour of every page. Page-specific keyboard handling lives with its page (review.js, write.js…).
(function () {
  "use strict";

  // True when a key press belongs to a field the user is typing in, not to a page shortcut.
  function isTyping(event) {
    const target = event.target;
    return Boolean(target && target.closest && target.closest("input, textarea, select, [contenteditable='true']"));
  }
  window.lima = { isTyping: isTyping };

  document.addEventListener("htmx:responseError", function (event) {
    const box = document.createElement("div");
    box.className = "flash flash-error";
    box.setAttribute("role", "alert");
    box.textContent = "The server answered " + event.detail.xhr.status + ". Nothing was lost: try again.";
    document.querySelector("main")?.prepend(box);
  });
  document.addEventListener("htmx:sendError", function () {
    const box = document.createElement("div");
    box.className = "flash flash-error";
    box.setAttribute("role", "alert");
    box.textContent = "The server cannot be reached. Your text is still here: try again in a moment.";
    document.querySelector("main")?.prepend(box);
  });

  // A flash about a job ("queued for the worker", core.jobs.notices) holds while the job is in the state it
  // describes: once the job's badge on the page shows another, the status card says what happened instead.
  function syncJobNotices() {
    document.querySelectorAll(".flash[data-job]").forEach(function (flash) {
      const badge = document.querySelector('.badge[data-job="' + flash.dataset.job + '"]');
      if (badge && badge.dataset.jobStatus !== flash.dataset.jobWas) flash.remove();
    });
  }
  document.addEventListener("DOMContentLoaded", syncJobNotices);
  document.addEventListener("htmx:afterSettle", syncJobNotices);

  // <div data-focus-on-swap>: a result htmx puts there is brought into view and focused (a check's verdict
  // under a long form would otherwise arrive below the fold, unseen).
  document.addEventListener("htmx:afterSettle", function (event) {
    const target = event.detail.target;
    if (!target || !target.matches || !target.matches("[data-focus-on-swap]") || !target.textContent.trim()) return;
    target.scrollIntoView({ block: "nearest", behavior: "smooth" });
    target.focus({ preventScroll: true });
  });

  // <button data-toggle="#id"> shows or hides an element.
  document.addEventListener("click", function (event) {
    const toggle = event.target.closest("[data-toggle]");
    if (toggle) {
      const target = document.querySelector(toggle.dataset.toggle);
      if (target) target.hidden = !target.hidden;
    }
    const confirming = event.target.closest("[data-confirm]");
    if (confirming && !window.confirm(confirming.dataset.confirm)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
    const closer = event.target.closest("[data-close-dialog]");
    if (closer) closer.closest("dialog")?.close();
  }, true);

  // <form data-autosubmit>: filters apply as soon as they change.
  document.addEventListener("change", function (event) {
    const form = event.target.closest && event.target.closest("form[data-autosubmit]");
    if (form) form.requestSubmit();
  });

  // Conversation fields grow with their text (a wikiHow answer runs to 1,800 tokens), never below their rows.
  function fit(textarea) {
    textarea.style.height = "auto";
    // +8: the borders, and room so that the last line is never half hidden.
    textarea.style.height = Math.max(textarea.scrollHeight + 8, textarea.offsetHeight) + "px";
  }
  function fitAll(root) { root.querySelectorAll("textarea[name=turn]").forEach(fit); }
  document.addEventListener("input", function (event) {
    if (event.target.matches && event.target.matches("textarea[name=turn]")) fit(event.target);
  });
  document.addEventListener("DOMContentLoaded", function () { fitAll(document); });
  document.addEventListener("htmx:afterSwap", function (event) { fitAll(event.detail.target); });
  window.lima.fitTextareas = fitAll;

  // The in-place edit form (review and history pages): Ctrl+Enter saves, Esc cancels; it opens focused.
  document.addEventListener("keydown", function (event) {
    const form = document.getElementById("edit-form");
    if (!form) return;
    if ((event.ctrlKey || event.metaKey) && event.key === "Enter") {
      event.preventDefault();
      form.requestSubmit();
    } else if (event.key === "Escape" && !document.querySelector("dialog[open]")) {
      event.preventDefault();
      form.querySelector("[data-cancel]")?.click();
    }
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    const form = event.detail.target.querySelector && event.detail.target.querySelector("#edit-form");
    if (form) {
      const fields = form.querySelectorAll("textarea");
      const field = fields.length > 1 ? fields[1] : fields[0];
      field?.focus();
      form.scrollIntoView({ block: "nearest" });
    }
  });
})();

// The header: the menu button opens the collapsed nav; the account menu closes on Esc or a click elsewhere; the
// theme buttons apply at once and store the choice on the user (without scripts they post the form and reload).
(function () {
  "use strict";
  const root = document.documentElement;
  const toggle = document.querySelector(".nav-toggle");
  function setOpen(open) {
    root.classList.toggle("nav-open", open);
    if (toggle) toggle.setAttribute("aria-expanded", open ? "true" : "false");
  }
  toggle?.addEventListener("click", function () { setOpen(!root.classList.contains("nav-open")); });
  let pending = 0;
  window.addEventListener("resize", function () {
    cancelAnimationFrame(pending);
    pending = requestAnimationFrame(function () {
      window.limaFitNav?.();
      if (!root.classList.contains("nav-collapsed")) setOpen(false);
    });
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    const menu = document.querySelector(".usermenu[open]");
    if (menu) { menu.open = false; menu.querySelector("summary").focus(); return; }
    if (root.classList.contains("nav-open") && event.target.closest?.(".topbar")) { setOpen(false); toggle?.focus(); }
  });
  document.addEventListener("click", function (event) {
    const menu = document.querySelector(".usermenu[open]");
    if (menu && !menu.contains(event.target)) menu.open = false;
  });

  document.addEventListener("submit", function (event) {
    const form = event.target.closest("[data-theme-form]");
    if (!form || !event.submitter || !window.fetch) return;
    event.preventDefault();
    const theme = event.submitter.value;
    const body = new FormData(form);
    body.set("theme", theme);
    root.dataset.theme = theme;
    form.querySelectorAll("button[name=theme]").forEach(function (button) {
      button.setAttribute("aria-pressed", button.value === theme ? "true" : "false");
    });
    fetch(form.action, { method: "POST", body: body, headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) { if (!response.ok) throw new Error(String(response.status)); })
      .catch(function () {
        const field = Object.assign(document.createElement("input"), { type: "hidden", name: "theme", value: theme });
        form.append(field);
        form.submit();
      });
  });
}());

// A box that scrolls (a wide table in its card on a phone, a long prompt) can be reached and scrolled with the
// keyboard: it takes focus when nothing inside it can.
(function () {
  "use strict";
  const FOCUSABLE = "a[href], button, input, select, textarea, summary, [tabindex]";
  function scrolls(element, style) {
    const x = /(auto|scroll)/.test(style.overflowX) && element.scrollWidth > element.clientWidth + 1;
    const y = /(auto|scroll)/.test(style.overflowY) && element.scrollHeight > element.clientHeight + 1;
    return x || y;
  }
  function markScrollable(root) {
    const scope = root && root.querySelectorAll ? root : document;
    const main = document.getElementById("main");
    if (!main) return;
    const candidates = scope === document ? main.querySelectorAll("*") : [scope, ...scope.querySelectorAll("*")];
    for (const element of candidates) {
      if (element.hasAttribute("data-scroll-focus")) {
        if (!scrolls(element, getComputedStyle(element))) {
          element.removeAttribute("tabindex");
          element.removeAttribute("data-scroll-focus");
        }
        continue;
      }
      if (element.hasAttribute("tabindex") || element.matches("svg *, textarea, select, pre *")) continue;
      const style = getComputedStyle(element);
      if (style.overflowX === "visible" && style.overflowY === "visible") continue;
      if (scrolls(element, style) && !element.querySelector(FOCUSABLE)) {
        element.setAttribute("tabindex", "0");
        element.setAttribute("data-scroll-focus", "");
      }
    }
  }
  window.lima.markScrollable = markScrollable;
  document.addEventListener("DOMContentLoaded", function () { markScrollable(document); });
  document.addEventListener("htmx:afterSettle", function (event) { markScrollable(event.detail.target); });
  let pending = 0;
  window.addEventListener("resize", function () {
    clearTimeout(pending);
    pending = setTimeout(function () { markScrollable(document); }, 200);
  });
}());
