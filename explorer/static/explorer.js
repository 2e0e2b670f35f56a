// vaxchain explorer: live updates. The pages work without this file; it only refreshes them.
// On every new block (WebSocket to the node's /ws, topic newHeads) the page's live part is re-fetched as a
// server-rendered fragment (escaped on the server), and "since last block" ticks every second.
(function () {
  "use strict";
  var body = document.body;
  var wsUrl = body.getAttribute("data-ws");
  var live = body.getAttribute("data-live");
  var lang = body.getAttribute("data-lang") || "en";
  var zh = lang === "zh-CN";
  var lastBlockMs = null;
  var refreshing = false;
  var pending = false;

  function ago(ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    if (s < 120) return zh ? s + " 秒前" : s + " s ago";
    if (s < 7200) return zh ? Math.floor(s / 60) + " 分钟前" : Math.floor(s / 60) + " min ago";
    return zh ? Math.floor(s / 3600) + " 小时前" : Math.floor(s / 3600) + " h ago";
  }

  function tick() {
    var el = document.querySelector("[data-since]");
    if (!el) return;
    var at = lastBlockMs || parseInt(el.getAttribute("data-since"), 10);
    if (!isNaN(at)) el.textContent = ago(Date.now() - at);
  }

  function refresh() {
    var target = document.getElementById("live");
    if (!live || live === "/fragment/none" || !target) return;
    if (refreshing) { pending = true; return; }
    refreshing = true;
    var sep = live.indexOf("?") >= 0 ? "&" : "?";
    fetch(live + sep + "lang=" + encodeURIComponent(lang), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html !== null) { target.innerHTML = html; tick(); }
      })
      .catch(function () {})
      .then(function () {
        // at most one refresh every two seconds, however fast blocks come
        setTimeout(function () { refreshing = false; if (pending) { pending = false; refresh(); } }, 2000);
      });
  }

  function connect(delay) {
    if (!wsUrl || !window.WebSocket) return;
    var ws;
    try { ws = new WebSocket(wsUrl); } catch (e) { return; }
    ws.onopen = function () {
      delay = 1000;
      ws.send(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "subscribe", params: { topic: "newHeads" } }));
      body.classList.add("is-live");
    };
    ws.onmessage = function (ev) {
      var msg;
      try { msg = JSON.parse(ev.data); } catch (e) { return; }
      if (msg && msg.method === "subscription" && msg.params && msg.params.result) {
        var head = msg.params.result;
        if (typeof head.time_ms === "number") lastBlockMs = head.time_ms;
        refresh();
      }
    };
    ws.onclose = function () {
      body.classList.remove("is-live");
      setTimeout(function () { connect(Math.min(delay * 2, 30000)); }, delay);
    };
  }

  tick();
  setInterval(tick, 1000);
  connect(1000);
})();
