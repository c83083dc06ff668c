// Training pages: keep the engine's log scrolled to its newest line as htmx refreshes a running run.
(function () {
  "use strict";

  function followLog(root) {
    const log = (root || document).querySelector(".log-tail");
    if (log && !log.matches(":hover")) log.scrollTop = log.scrollHeight;
  }

  document.addEventListener("DOMContentLoaded", function () { followLog(document); });
  document.addEventListener("htmx:afterSwap", function (event) { followLog(event.target.parentNode || document); });
})();
