/*
 * The documents page: fills the table from GET /api/documents, uploads (POST, multipart "files"),
 * deletes (DELETE /api/documents/{id}) and shows build progress by polling while a build runs.
 * Every value from the server goes into the page as text (textContent), never as HTML.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  var root = script.getAttribute("data-root") || "";
  var uploads = script.getAttribute("data-uploads") === "on";
  var api = root + "/api/documents";
  var tbody = document.querySelector("#documents tbody");
  var progress = document.getElementById("progress");
  var buildText = document.getElementById("build-text");
  var errorBox = document.getElementById("error");
  var summary = document.getElementById("summary");
  var polling = null;

  function el(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function size(bytes) {
    if (!bytes) return "";
    if (bytes < 1000) return bytes + " B";
    if (bytes < 1e6) return (bytes / 1e3).toFixed(0) + " kB";
    return (bytes / 1e6).toFixed(1) + " MB";
  }

  function docPath(id) {
    return id.split("/").map(encodeURIComponent).join("/");
  }

  async function detail(response) {
    try {
      var body = await response.json();
      return body.detail || response.statusText;
    } catch (e) {
      return response.status + " " + response.statusText;
    }
  }

  function showBuild(build) {
    var indexing = build.state === "indexing";
    progress.hidden = !indexing;
    progress.value = build.fraction;
    if (indexing) {
      var stage = {
        reading: "reading the documents",
        embedding: "embedding passages " + build.done + " of " + build.total,
        annotating: "finding names, places, dates and figures",
        writing: "writing the index",
        loading: "switching the chat to the new index"
      }[build.stage] || build.stage;
      buildText.textContent = "Indexing: " + stage + " …";
    } else {
      buildText.textContent = build.message || "";
    }
    if (build.state === "failed") errorBox.textContent = build.message;
    return indexing;
  }

  function row(doc) {
    var tr = document.createElement("tr");
    var name = el("td");
    if (doc.status === "indexed") {
      var link = el("a", doc.title || doc.id);
      link.href = root + "/api/documents/" + docPath(doc.id) + "/view";
      name.appendChild(link);
    } else {
      name.appendChild(el("span", doc.title || doc.id));
    }
    if (doc.title && doc.title !== doc.id) name.appendChild(el("div", doc.id, "reason"));
    tr.appendChild(name);
    var status = el("td");
    status.appendChild(el("span", doc.status, "status " + doc.status));
    if (doc.reason) status.appendChild(el("div", doc.reason, "reason"));
    tr.appendChild(status);
    tr.appendChild(el("td", doc.chunks || "", "num"));
    tr.appendChild(el("td", doc.pages || "", "num"));
    tr.appendChild(el("td", size(doc.bytes), "num"));
    var actions = el("td");
    if (uploads && doc.bytes) {
      var remove = el("button", "Delete");
      remove.type = "button";
      remove.setAttribute("aria-label", "Delete " + doc.id);
      remove.addEventListener("click", function () { removeDocument(doc.id); });
      actions.appendChild(remove);
    }
    tr.appendChild(actions);
    return tr;
  }

  async function refresh() {
    var response = await fetch(api, { credentials: "same-origin" });
    if (!response.ok) {
      errorBox.textContent = await detail(response);
      return false;
    }
    var body = await response.json();
    tbody.replaceChildren.apply(tbody, body.documents.map(row));
    var indexed = body.documents.filter(function (d) { return d.status === "indexed"; }).length;
    summary.textContent = indexed + " indexed of " + body.documents.length + " files";
    var indexing = showBuild(body.build);
    if (indexing && !polling) polling = setInterval(poll, 700);
    if (!indexing && polling) { clearInterval(polling); polling = null; }
    return indexing;
  }

  async function poll() {
    try { await refresh(); } catch (e) { errorBox.textContent = "Lost contact with the server: " + e; }
  }

  async function upload(files) {
    errorBox.textContent = "";
    if (!files.length) { errorBox.textContent = "Choose one or more files first."; return; }
    var problems = [];
    // one request per file: each is checked on its own, and the server's body limit is one file
    for (var i = 0; i < files.length; i++) {
      var form = new FormData();
      form.append("files", files[i], files[i].name);
      buildText.textContent = "Uploading " + files[i].name + " (" + (i + 1) + " of " + files.length + ") …";
      var response = await fetch(api, { method: "POST", body: form, credentials: "same-origin" });
      if (response.ok) {
        showBuild((await response.json()).build); // the build has started: show the bar at once, however short
      } else {
        problems.push(await detail(response));
      }
    }
    if (problems.length) {
      buildText.textContent = "";
      errorBox.textContent = problems.join(" · ");
    }
    document.getElementById("files").value = "";
    await refresh();
  }

  async function removeDocument(id) {
    if (!window.confirm("Delete " + id + " from the documents? The answers will no longer draw on it.")) return;
    errorBox.textContent = "";
    var response = await fetch(api + "/" + docPath(id), { method: "DELETE", credentials: "same-origin" });
    if (!response.ok) errorBox.textContent = await detail(response);
    await refresh();
  }

  if (uploads) {
    var input = document.getElementById("files");
    var drop = document.getElementById("drop");
    document.getElementById("upload-form").addEventListener("submit", function (event) {
      event.preventDefault();
      upload(input.files);
    });
    drop.addEventListener("dragover", function (event) { event.preventDefault(); drop.classList.add("over"); });
    drop.addEventListener("dragleave", function () { drop.classList.remove("over"); });
    drop.addEventListener("drop", function (event) {
      event.preventDefault();
      drop.classList.remove("over");
      upload(event.dataTransfer.files);
    });
  }
  poll();
})();
