// Keyboard and scrolling for the chat page.
// Enter sends, Shift+Enter inserts a newline; Enter while an IME is composing (e.g. a
// Persian or CJK input method) is left alone. Escape stops the answer being generated, or
// leaves the edit of a sent question.
document.addEventListener("keydown", (event) => {
  const target = event.target;
  if (target && target.id === "chat-input" && event.key === "Enter" && !event.shiftKey
      && !event.isComposing && event.keyCode !== 229) {
    event.preventDefault();
    if (!target.value.trim()) return;
    const send = document.getElementById("send-button");
    if (send) target.form.requestSubmit(send);
  } else if (event.key === "Escape" && target && target.id === "edit-input") {
    const cancel = document.getElementById("edit-cancel");  // Escape leaves an edit
    if (cancel) { event.preventDefault(); cancel.click(); }
  } else if (event.key === "Escape") {
    const stop = document.getElementById("stop-button");
    if (stop) { event.preventDefault(); stop.click(); }
  }
}, true);

// Grow the message box with its text (up to the CSS max-height).
document.addEventListener("input", (event) => {
  const target = event.target;
  if (target && target.id === "chat-input") {
    target.style.height = "auto";
    target.style.height = target.scrollHeight + "px";
  }
});

// Keep the newest message in view, smoothly, unless the user scrolled up to read.
(function followMessages() {
  const main = document.querySelector(".main");
  const list = document.getElementById("messages");
  if (!main || !list) { setTimeout(followMessages, 200); return; }
  let pinned = true;
  main.addEventListener("scroll", () => {
    pinned = main.scrollHeight - main.scrollTop - main.clientHeight < 80;
  });
  new MutationObserver(() => {
    if (pinned) main.scrollTo({ top: main.scrollHeight, behavior: "smooth" });
  }).observe(list, { childList: true, subtree: true, characterData: true });
})();
