// Small shared behaviour. Page-specific keyboard handling lives with its page.
document.addEventListener("htmx:responseError", function (event) {
  const box = document.createElement("div");
  box.className = "flash flash-error";
  box.setAttribute("role", "alert");
  box.textContent = "The server answered " + event.detail.xhr.status + ". Nothing was lost: try again.";
  document.querySelector("main")?.prepend(box);
});
