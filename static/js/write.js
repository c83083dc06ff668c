// The writing page: add/remove exchanges (roles alternate), live counters, a draft kept in localStorage until
// the server confirms the save, Ctrl+Enter to save. The preview itself is htmx (see _turn_editor.html).
(function () {
  "use strict";
  const form = document.getElementById("write-form");
  if (!form) return;
  const editors = document.getElementById("turn-editors");
  const template = document.getElementById("exchange-template");
  const removeButton = form.querySelector("[data-remove-exchange]");
  const status = document.getElementById("draft-status");
  const KEY = form.dataset.draftKey || "lima.write.draft";

  function textareas() { return Array.from(editors.querySelectorAll("textarea[name=turn]")); }

  // A request of its own, not htmx.trigger: right after a reload htmx has not processed #preview yet (it does
  // on DOMContentLoaded, after this deferred script), and a triggered event would go nowhere ("0 chars").
  function refreshPreview() {
    if (!window.htmx) return;
    const preview = document.getElementById("preview");
    htmx.ajax("POST", preview.getAttribute("hx-post"), { source: form, target: preview, swap: "innerHTML" });
  }

  function updateCounter(textarea) {
    const counter = textarea.closest(".turn-editor").querySelector("[data-counter]");
    const chars = textarea.value.trim().length;
    counter.textContent = chars ? chars.toLocaleString() + " chars · ≈" + Math.ceil(chars / 4).toLocaleString() + " tokens" : "";
  }

  function updateButtons() { removeButton.hidden = textareas().length <= 2; }

  function addExchange(focus) {
    const fragment = template.content.cloneNode(true);
    const added = Array.from(fragment.children);
    editors.append(fragment);
    added.forEach(function (node) { window.htmx && htmx.process(node); });
    updateButtons();
    if (focus) added[0].querySelector("textarea").focus();
  }

  function removeExchange() {
    const fields = textareas();
    if (fields.length <= 2) return;
    const last = fields.slice(-2);
    if (last.some(function (t) { return t.value.trim(); }) && !window.confirm("Remove the last exchange and its text?")) return;
    last.forEach(function (t) { t.closest(".turn-editor").remove(); });
    updateButtons();
    saveDraft();
    refreshPreview();
  }

  function snapshot() {
    return {
      turns: textareas().map(function (t) { return t.value; }),
      domain: form.elements.domain.value,
      split: form.elements.split.value,
      tags: form.elements.tags.value,
      savedAt: new Date().toISOString(),
    };
  }

  function isEmpty(draft) {
    return !draft.turns.some(function (t) { return t.trim(); }) && !draft.domain.trim() && !draft.tags.trim();
  }

  function timeOf(iso) {
    return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function saveDraft() {
    const draft = snapshot();
    try {
      if (isEmpty(draft)) {
        localStorage.removeItem(KEY);
        status.textContent = "";
      } else {
        localStorage.setItem(KEY, JSON.stringify(draft));
        status.textContent = "Draft kept in this browser · " + timeOf(draft.savedAt);
      }
    } catch (error) {
      status.textContent = "This browser does not keep drafts: save before leaving.";
    }
  }

  function readDraft() {
    try { return JSON.parse(localStorage.getItem(KEY) || "null"); } catch (error) { return null; }
  }

  function restore(draft) {
    while (textareas().length < draft.turns.length) addExchange(false);
    textareas().forEach(function (t, i) { t.value = draft.turns[i] || ""; updateCounter(t); });
    form.elements.domain.value = draft.domain || "";
    form.elements.split.value = draft.split || form.elements.split.value;
    form.elements.tags.value = draft.tags || "";
    const banner = document.getElementById("draft-restored");
    banner.querySelector("[data-draft-time]").textContent = timeOf(draft.savedAt);
    banner.hidden = false;
    window.lima.fitTextareas(editors);
    status.textContent = "Draft kept in this browser · " + timeOf(draft.savedAt);
    refreshPreview();
  }

  function discard() {
    localStorage.removeItem(KEY);
    textareas().slice(2).forEach(function (t) { t.closest(".turn-editor").remove(); });
    textareas().forEach(function (t) { t.value = ""; updateCounter(t); });
    form.elements.domain.value = "";
    form.elements.tags.value = "";
    document.getElementById("draft-restored").hidden = true;
    status.textContent = "";
    updateButtons();
    refreshPreview();
  }

  // The server confirmed a save: that draft is done. Otherwise bring back an unsaved one.
  if (document.querySelector("[data-draft-saved]")) {
    localStorage.removeItem(KEY);
  } else if (form.dataset.hasInput === "1") {
    saveDraft();  // the server sent the form back (an error): what it shows is the latest text
  } else {
    const draft = readDraft();
    if (draft && !isEmpty(draft)) restore(draft);
  }
  textareas().forEach(updateCounter);
  updateButtons();

  let timer = null;
  form.addEventListener("input", function (event) {
    if (event.target.name === "turn") updateCounter(event.target);
    clearTimeout(timer);
    timer = setTimeout(saveDraft, 250);
  });
  form.addEventListener("change", saveDraft);
  // Leaving within the debounce must not drop the last keystrokes.
  window.addEventListener("pagehide", function () { clearTimeout(timer); if (!form.dataset.submitted) saveDraft(); });
  form.addEventListener("submit", function () { clearTimeout(timer); saveDraft(); });
  form.querySelector("[data-add-exchange]").addEventListener("click", function () { addExchange(true); saveDraft(); refreshPreview(); });
  removeButton.addEventListener("click", removeExchange);
  document.querySelector("[data-discard-draft]").addEventListener("click", discard);
  document.addEventListener("keydown", function (event) {
    if ((event.ctrlKey || event.metaKey) && event.key === "Enter") {
      event.preventDefault();
      saveDraft();
      form.requestSubmit();
    }
  });
})();
