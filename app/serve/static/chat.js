/*
 * askdocs chat pages ("/" and "/embed"): where the conversation is scrolled to, and the answers'
 * "Copy answer" buttons. app/serve/ui.py puts this in the page head and turns the chatbot's own
 * autoscroll and copy buttons off.
 *
 * Gradio's autoscroll pins the chat to its bottom, which after an answer with several sources is
 * the end of the last source, the answer itself out of view. Instead: when a question is asked,
 * show it and its answer as it streams (the bottom); when the final answer arrives, scroll so that
 * exchange starts at the top of the chat (the question, then the answer text). Someone who has
 * scrolled away from the answer meanwhile is left where they are. A conversation restored after a
 * reload shows its last exchange the same way.
 */
(function () {
  "use strict";
  if (window.askdocsChatScroll) return;
  window.askdocsChatScroll = true;

  var GAP = 12; // px left above the question
  var asked = 0; // questions whose answer we have seen pending (streaming)
  var shown = 0; // questions whose final answer we have scrolled to
  var scheduled = false;

  function inView(chat, element) {
    var c = chat.getBoundingClientRect();
    var r = element.getBoundingClientRect();
    return r.top < c.bottom && r.bottom > c.top;
  }

  function scrollToTop(chat, element) {
    var row = element.closest(".message-row") || element; // the whole bubble, when Gradio has one
    chat.scrollTop += row.getBoundingClientRect().top - chat.getBoundingClientRect().top - GAP;
  }

  function update() {
    scheduled = false;
    var chat = document.querySelector("#ad-chat [role=log]");
    if (!chat) return;
    var questions = chat.querySelectorAll(".ad-q");
    var count = questions.length;
    if (count === 0) {
      asked = shown = 0; // a new chat
      return;
    }
    var question = questions[count - 1];
    var answers = chat.querySelectorAll(".ad-msg");
    var answer = answers[answers.length - 1];
    // its answer is not rendered yet (or is mid-render)
    if (!answer || !(question.compareDocumentPosition(answer) & Node.DOCUMENT_POSITION_FOLLOWING)) return;
    if (answer.classList.contains("ad-pending")) {
      var justAsked = asked !== count;
      asked = count;
      if (justAsked || inView(chat, answer)) chat.scrollTop = chat.scrollHeight;
      return;
    }
    if (shown === count) return;
    var restored = asked !== count; // never seen pending: restored after a reload (or a very quick answer)
    shown = asked = count;
    if (restored || inView(chat, answer)) {
      // a question taller than a third of the chat would push the answer down: start at the answer
      var tall = question.getBoundingClientRect().height > chat.clientHeight / 3;
      scrollToTop(chat, tall ? answer : question);
    }
  }

  // "Copy answer" (app/serve/render.py): the answer text, then one line per source with the link to
  // its quote, so the [n] markers still lead somewhere once pasted.
  function answerText(message) {
    var lines = [];
    message.querySelectorAll(".ad-text").forEach(function (text) {
      lines.push(text.innerText.trim());
    });
    var sources = [];
    message.querySelectorAll(".ad-sources .ad-src").forEach(function (source) {
      var head = source.querySelector(".ad-src-head");
      var link = source.querySelector("a.ad-open");
      var line = head ? head.innerText.replace(/\s+/g, " ").trim() : "";
      sources.push(link ? line + ": " + link.href : line);
    });
    var label = message.querySelector(".ad-sources-label"); // "Sources", or a "not found" answer's "Closest passages"
    if (sources.length) lines.push("", (label ? label.textContent : "Sources") + ":", sources.join("\n"));
    return lines.join("\n");
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    // plain http on an intranet host has no clipboard API: the older way, from a hidden textarea
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    var copied = document.execCommand("copy");
    area.remove();
    return copied ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }

  document.addEventListener("click", function (event) {
    var button = event.target instanceof Element ? event.target.closest("button.ad-copy") : null;
    var message = button && button.closest(".ad-msg");
    if (!message) return;
    copyText(answerText(message)).then(
      function () { say(button, "Copied"); },
      function () { say(button, "Could not copy"); }
    );
  });

  function say(button, text) {
    button.textContent = text;
    window.setTimeout(function () { button.textContent = "Copy answer"; }, 2000);
  }

  new MutationObserver(function () {
    if (scheduled) return;
    scheduled = true;
    window.requestAnimationFrame(update); // once per frame, on the settled DOM
  }).observe(document.documentElement, { childList: true, subtree: true, characterData: true });
})();
