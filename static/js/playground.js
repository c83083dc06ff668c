// The playground: sends the conversation to /playground/stream/ and shows the reply as its chunks arrive
// (fetch + a stream reader; no server-sent events needed). Stop aborts the request, which ends the generation.
(function () {
  "use strict";
  const form = document.getElementById("playground");
  if (!form) return;
  const log = document.getElementById("chat-log");
  const input = document.getElementById("chat-input");
  const status = document.getElementById("chat-status");
  const errorBox = document.getElementById("chat-error");
  const sendButton = form.querySelector("[data-send]");
  const stopButton = form.querySelector("[data-stop]");
  let turns = [];
  let controller = null;

  function bubble(role, text) {
    log.querySelector(".chat-empty")?.remove();
    const item = document.createElement("li");
    item.className = "turn turn-" + role;
    const head = document.createElement("div");
    head.className = "turn-role";
    head.textContent = role === "user" ? "You" : "Model";
    const body = document.createElement("div");
    body.className = "chat-text";
    body.textContent = text;
    item.append(head, body);
    log.append(item);
    item.scrollIntoView({ block: "end" });
    return body;
  }

  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = !message;
  }

  function setBusy(on) {
    sendButton.disabled = on;
    stopButton.hidden = !on;
    status.textContent = on ? "writing…" : "";
  }

  async function send() {
    const message = input.value.trim();
    if (!message || controller) return;
    showError("");
    const asked = turns.concat([message]);
    const asking = bubble("user", message).closest("li");
    input.value = "";
    const reply = bubble("assistant", "");
    reply.classList.add("streaming");
    const data = new FormData(form);
    data.delete("message");
    data.set("turns", JSON.stringify(asked));
    controller = new AbortController();
    setBusy(true);
    let text = "";
    try {
      const response = await fetch(form.action, { method: "POST", body: data, signal: controller.signal,
                                                  headers: { "X-CSRFToken": data.get("csrfmiddlewaretoken") } });
      if (!response.ok) {
        let detail = "The server answered " + response.status + ".";
        try {
          const errors = (await response.json()).errors || {};
          detail = Object.entries(errors).map(([field, list]) => field + ": " + list.join(" ")).join(" ");
        } catch (ignored) { /* not JSON */ }
        throw new Error(detail);
      }
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
        reply.textContent = text;
        reply.closest("li").scrollIntoView({ block: "end" });
      }
      text += decoder.decode();
      reply.textContent = text;
      turns = asked.concat([text]);
    } catch (error) {
      if (error.name === "AbortError") {
        turns = asked.concat([text]);  // what was written so far stays the model's turn
      } else {
        reply.closest("li").remove();
        asking.remove();  // nothing was answered: the message goes back to the box, to send again
        input.value = message;
        showError(error.message || "The reply failed.");
      }
    } finally {
      reply.classList.remove("streaming");
      controller = null;
      setBusy(false);
      input.focus();
    }
  }

  form.addEventListener("submit", function (event) { event.preventDefault(); send(); });
  stopButton.addEventListener("click", function () { controller?.abort(); });
  form.querySelector("[data-new-chat]").addEventListener("click", function () {
    controller?.abort();
    turns = [];
    log.innerHTML = '<li class="chat-empty muted">Ask something. <kbd>Ctrl</kbd>+<kbd>Enter</kbd> sends.</li>';
    input.focus();
  });
  input.addEventListener("keydown", function (event) {
    if ((event.ctrlKey || event.metaKey) && event.key === "Enter") { event.preventDefault(); send(); }
  });
})();
