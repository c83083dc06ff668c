// The blind labelling page's keyboard. Pairwise: 1/a "A is better", 2/b "B is better", 3/t neither.
// Rating: 1/f Fail, 2/p Pass, 3/e Excellent. j/k next/previous item, ? help. One request at a time.
(function () {
  "use strict";

  function panel() { return document.getElementById("study-panel"); }
  function busy() { return Boolean(document.querySelector("#study-panel.htmx-request, #study-panel .htmx-request")); }

  function press(key) {
    const root = panel();
    if (!root) return false;
    const target = root.querySelector('[data-key="' + key + '"]') || root.querySelector('[data-alt-key="' + key + '"]');
    if (!target || target.disabled || target.hasAttribute("data-disabled")) return false;
    target.click();
    return true;
  }

  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-open-help]")) document.getElementById("help-dialog")?.showModal();
    const disabled = event.target.closest("#study-panel [data-disabled]");
    if (disabled) { event.preventDefault(); event.stopImmediatePropagation(); }
  }, true);

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (document.querySelector("dialog[open]") || window.lima.isTyping(event)) return;
    const key = event.key.toLowerCase();
    if (key === "?") {
      document.getElementById("help-dialog")?.showModal();
      event.preventDefault();
      return;
    }
    if (!/^[123abtfpejk]$/.test(key)) return;
    event.preventDefault();
    if (busy()) return;  // the previous label is still on its way: never send two for one item
    press(key);
  });

  // After a swap, start at the top of the new item, as a reader would.
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target.id === "study-panel" || event.detail.elt?.id === "study-panel") window.scrollTo({ top: 0 });
  });
})();
