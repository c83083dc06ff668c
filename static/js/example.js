// The history page: e opens the editor in place (Ctrl+Enter saves, Esc cancels: see app.js).
(function () {
  "use strict";
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || window.lima.isTyping(event)) return;
    if (event.key === "e" && !document.getElementById("edit-form")) {
      const button = document.querySelector('[data-key="e"]');
      if (button) {
        event.preventDefault();
        button.click();
      }
    }
  });
})();
