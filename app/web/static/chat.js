// The chat playground: sends one turn to /app/chat/stream and renders its frames as they arrive.
(function () {
  "use strict";
  var form = document.getElementById("chat-form");
  if (!form) return;
  var transcript = document.getElementById("transcript");
  var query = document.getElementById("query");
  var model = document.getElementById("model");
  var send = document.getElementById("send");
  var cancel = document.getElementById("cancel");
  var status = document.getElementById("chat-status");
  var sessionId = form.dataset.session ? parseInt(form.dataset.session, 10) : null;
  var controller = null;

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text; // never innerHTML: model output is text
    return node;
  }

  function turn(actor, label) {
    var article = el("article", "turn " + actor);
    article.appendChild(el("h3", "who", label));
    transcript.appendChild(article);
    return article;
  }

  function setBusy(busy) {
    send.disabled = busy;
    cancel.disabled = !busy;
    query.disabled = busy;
  }

  function Renderer(article) {
    this.article = article;
    this.current = null;
    this.tool = null;
  }
  Renderer.prototype.frame = function (frame) {
    var data = frame.data || {};
    var content = data.content || {};
    switch (data.type) {
      case "RESPONSE_METADATA":
        if (content.session_id) {
          sessionId = content.session_id;
          form.dataset.session = String(sessionId);
        }
        break;
      case "TEXT_START":
        this.current = this.article.appendChild(el("div", "text"));
        break;
      case "TEXT_DELTA":
        if (!this.current) this.current = this.article.appendChild(el("div", "text"));
        this.current.textContent += content.text || "";
        break;
      case "THINKING_BLOCK_START":
        var details = this.article.appendChild(el("details"));
        details.appendChild(el("summary", null, "Thinking"));
        this.current = details.appendChild(el("div", "text"));
        break;
      case "THINKING_BLOCK_DELTA":
        if (this.current) this.current.textContent += content.thinking_delta || "";
        break;
      case "CODE_BLOCK_START":
        var figure = this.article.appendChild(el("figure", "code"));
        figure.appendChild(el("figcaption", null, content.filepath || content.language || "code"));
        this.current = figure.appendChild(el("pre")).appendChild(el("code"));
        break;
      case "CODE_BLOCK_DELTA":
        if (this.current) this.current.textContent += content.code_delta || "";
        break;
      case "TEXT_BLOCK_END":
      case "THINKING_BLOCK_END":
      case "CODE_BLOCK_END":
        this.current = null;
        break;
      case "TOOL_USE_REQUEST_START":
        this.tool = this.article.appendChild(el("div", "tool"));
        this.tool.appendChild(el("span", "badge", "calling"));
        this.tool.appendChild(document.createTextNode(" tool "));
        this.tool.appendChild(el("code", null, content.tool_name || "?"));
        this.toolInput = this.tool.appendChild(el("pre"));
        break;
      case "TOOL_USE_REQUEST_DELTA":
        if (this.toolInput) this.toolInput.textContent += content.input_params_json_delta || "";
        break;
      case "TOOL_USE_REQUEST_END":
        if (this.tool) this.tool.querySelector(".badge").textContent = "requested";
        this.tool = null;
        break;
      case "MALFORMED_TOOL_USE_REQUEST":
        this.article.appendChild(el("p", "info", "A tool call was malformed: " + (content.reason || "")));
        break;
      case "SESSION_SUMMARY":
        if (content.summary) document.title = content.summary + " · Adjutant";
        break;
      case "TASK_COMPLETION":
        status.textContent = content.success === false ? "Finished without success." : "Done.";
        break;
      case "STREAM_END":
        status.textContent = "The model asked for tools that run in an IDE; this turn ends here.";
        break;
      case "STREAM_ERROR":
        var message = data.detail || data.message || data.status || "error";
        this.article.appendChild(el("p", "error", "Error: " + (data.status || "") + " " + message));
        status.textContent = "Failed.";
        break;
    }
  };

  async function readStream(response, renderer) {
    var reader = response.body.getReader();
    var decoder = new TextDecoder();
    var pending = "";
    for (;;) {
      var chunk = await reader.read();
      if (chunk.done) break;
      pending += decoder.decode(chunk.value, { stream: true });
      var parts = pending.split("\n\n");
      pending = parts.pop();
      parts.forEach(function (part) {
        part.split("\n").forEach(function (line) {
          if (line.indexOf("data: ") === 0) renderer.frame(JSON.parse(line.slice(6)));
        });
      });
    }
  }

  async function submit(event) {
    event.preventDefault();
    var text = query.value.trim();
    if (!text || controller) return;
    var mine = turn("user", "You");
    mine.appendChild(el("div", "text", text));
    var renderer = new Renderer(turn("assistant", "Assistant"));
    var body = { query: text, llm_model: model.value };
    if (sessionId) body.session_id = sessionId;
    controller = new AbortController();
    setBusy(true);
    status.textContent = "Streaming…";
    try {
      var response = await fetch("/app/chat/stream", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": window.adjutantCsrf },
        body: JSON.stringify(body),
        signal: controller.signal,
        credentials: "same-origin",
      });
      if (!response.ok) {
        var page = new DOMParser().parseFromString(await response.text(), "text/html");
        var problem = page.querySelector(".error p");
        renderer.article.appendChild(el("p", "error", problem ? problem.textContent : "Error " + response.status));
        status.textContent = "Failed.";
      } else {
        await readStream(response, renderer);
        query.value = "";
      }
    } catch (error) {
      if (error.name !== "AbortError") {
        renderer.article.appendChild(el("p", "error", "The connection was lost."));
        status.textContent = "Failed.";
      }
    } finally {
      controller = null;
      setBusy(false);
      query.focus();
    }
  }

  async function stop() {
    if (!controller) return;
    var running = controller;
    if (sessionId) {
      await fetch("/app/chat/cancel", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": window.adjutantCsrf },
        body: JSON.stringify({ session_id: sessionId }),
        credentials: "same-origin",
      });
    }
    running.abort(); // no further frames of a cancelled step are sent (docs/protocol.md §9)
    status.textContent = "Cancelled.";
  }

  form.addEventListener("submit", submit);
  cancel.addEventListener("click", stop);
  query.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) submit(event);
  });
})();
