/*
 * askdocs chat widget. Add it to any page with one tag:
 *
 *   <script src="http://askdocs.example:7860/widget.js" data-title="Ask the documents"></script>
 *
 * Options (attributes on the tag): data-title (dialog title and button label), data-button-text
 * (visible button text, default "Ask"), data-position ("right" or "left"). With an access token,
 * add it to the src: widget.js?token=... (it is passed on to the chat).
 *
 * The chat itself is the server's /embed page in an iframe, at the address of this script, so it
 * works on any host, port and path prefix. Everything lives in a shadow root; the only global is
 * window.askdocsWidget = { open, close, toggle }.
 */
(function () {
  "use strict";
  if (window.askdocsWidget) return;

  var script = document.currentScript;
  if (!script || !script.src) {
    var all = document.querySelectorAll('script[src*="widget.js"]');
    script = all[all.length - 1];
  }
  if (!script) return;

  var src = new URL(script.src, document.baseURI);
  var chatUrl = new URL("embed/", src); // the folder widget.js was served from, + "embed/"
  var token = src.searchParams.get("token");
  if (token) chatUrl.searchParams.set("token", token);

  var title = script.getAttribute("data-title") || "Ask the documents";
  var buttonText = script.getAttribute("data-button-text") || "Ask";
  var side = script.getAttribute("data-position") === "left" ? "left" : "right";

  var css =
    ":host{all:initial}" +
    "*{box-sizing:border-box}" +
    ".launcher{position:fixed;bottom:20px;" + side + ":20px;z-index:2147483000;display:flex;align-items:center;" +
    "gap:8px;padding:12px 18px;border:0;border-radius:999px;background:#1d4ed8;color:#fff;cursor:pointer;" +
    "font:600 15px/1 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;box-shadow:0 6px 20px rgba(0,0,0,.25)}" +
    ".launcher:hover{background:#1e40af}" +
    ".launcher:focus-visible,.close:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}" +
    ".launcher svg{width:18px;height:18px;fill:currentColor}" +
    ".panel{position:fixed;bottom:84px;" + side + ":20px;z-index:2147483000;width:min(420px,calc(100vw - 24px));" +
    "height:min(640px,calc(100vh - 110px));display:flex;flex-direction:column;background:#fff;" +
    "border:1px solid #d1d5db;border-radius:12px;overflow:hidden;box-shadow:0 12px 40px rgba(0,0,0,.3)}" +
    ".panel[hidden]{display:none}" +
    ".bar{display:flex;align-items:center;justify-content:space-between;padding:8px 10px 8px 14px;" +
    "background:#1d4ed8;color:#fff;font:600 15px/1.2 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}" +
    ".close{border:0;background:transparent;color:#fff;font:400 24px/1 system-ui,sans-serif;cursor:pointer;" +
    "width:36px;height:36px;border-radius:6px}" +
    ".close:hover{background:rgba(255,255,255,.15)}" +
    "iframe{flex:1;width:100%;border:0;background:#fff}" +
    "@media (max-width:480px){.panel{" + side + ":12px;bottom:76px;width:calc(100vw - 24px);" +
    "height:calc(100vh - 96px)}.launcher{bottom:14px;" + side + ":12px}}";

  var host = document.createElement("div");
  host.setAttribute("data-askdocs-widget", "");
  var root = host.attachShadow({ mode: "open" });

  var style = document.createElement("style");
  style.textContent = css;

  var launcher = document.createElement("button");
  launcher.type = "button";
  launcher.className = "launcher";
  launcher.setAttribute("aria-label", title);
  launcher.setAttribute("aria-haspopup", "dialog");
  launcher.setAttribute("aria-expanded", "false");
  launcher.setAttribute("aria-controls", "askdocs-panel");
  launcher.innerHTML =
    '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 ' +
    '0 1-2-2V6a2 2 0 0 1 2-2z"/></svg>';
  var buttonLabel = document.createElement("span");
  buttonLabel.textContent = buttonText;
  launcher.appendChild(buttonLabel);

  var panel = document.createElement("div");
  panel.className = "panel";
  panel.id = "askdocs-panel";
  panel.hidden = true;
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", title);

  var bar = document.createElement("div");
  bar.className = "bar";
  var heading = document.createElement("span");
  heading.textContent = title;
  var close = document.createElement("button");
  close.type = "button";
  close.className = "close";
  close.setAttribute("aria-label", "Close " + title);
  close.textContent = "\u00d7";
  bar.appendChild(heading);
  bar.appendChild(close);
  panel.appendChild(bar);

  var frame = null;

  function open() {
    if (!frame) {
      frame = document.createElement("iframe");
      frame.title = title;
      frame.src = chatUrl.href;
      frame.setAttribute("allow", "clipboard-write");
      panel.appendChild(frame);
    }
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    frame.focus();
  }

  function closePanel() {
    if (panel.hidden) return;
    panel.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    launcher.focus();
  }

  function toggle() {
    if (panel.hidden) open();
    else closePanel();
  }

  launcher.addEventListener("click", toggle);
  close.addEventListener("click", closePanel);
  root.addEventListener("keydown", function (event) {
    if (event.key === "Escape") closePanel();
  });

  root.appendChild(style);
  root.appendChild(panel);
  root.appendChild(launcher);

  function attach() {
    document.body.appendChild(host);
  }
  if (document.body) attach();
  else document.addEventListener("DOMContentLoaded", attach);

  window.askdocsWidget = { open: open, close: closePanel, toggle: toggle };
})();
