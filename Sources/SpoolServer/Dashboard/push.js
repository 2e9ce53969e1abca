// Spool push: shows the end of a job in a page without a reload.
//
// Mark an element with the job's id and its subscribeToken (both in the answer to the enqueue):
//
//   <div data-spool-job="ID" data-spool-token="TOKEN" data-spool-target="#preview">Rendering…</div>
//   <script src="https://spool.example.com/push.js"></script>
//
// The script opens /v1/events?job=ID&token=TOKEN on the Spool server it was loaded from
// (or data-spool-server) and, when the job ends, puts the HTML fragment at the job's
// fragmentURL (same origin as the page only) into the element data-spool-target selects (the
// marked element itself by default); without a fragment it writes the job's state there. The
// marked element then gets data-spool-state and fires a "spool:ended" event whose detail is
// the message. Elements added later: SpoolPush.watch(element). No build step, no dependencies.
(function () {
  "use strict";
  var script = document.currentScript;
  var defaultServer = script && script.src ? new URL(script.src, document.baseURI).origin : location.origin;

  function socketURL(server, job, token) {
    var url = new URL("/v1/events", server);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("job", job);
    url.searchParams.set("token", token);
    return url.toString();
  }

  function show(element, message) {
    var selector = element.getAttribute("data-spool-target");
    var target = selector ? document.querySelector(selector) : element;
    var done = function () {
      element.setAttribute("data-spool-state", message.state);
      element.dispatchEvent(new CustomEvent("spool:ended", { bubbles: true, detail: message }));
    };
    if (!target) { done(); return; }
    var fragment = message.fragmentURL ? new URL(message.fragmentURL, document.baseURI) : null;
    if (!fragment || fragment.origin !== location.origin) {
      target.textContent = message.state;
      done();
      return;
    }
    fetch(fragment.toString(), { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("fragment answered " + response.status); }
        return response.text();
      })
      .then(function (html) { target.innerHTML = html; })
      .catch(function () { target.textContent = message.state; })
      .then(done);
  }

  function watch(element) {
    var job = element.getAttribute("data-spool-job");
    var token = element.getAttribute("data-spool-token");
    if (!job || !token || element.spoolWatched) { return; }
    element.spoolWatched = true;
    var server = element.getAttribute("data-spool-server") || defaultServer;
    var delay = 500;
    var ended = false;
    var connect = function () {
      var socket = new WebSocket(socketURL(server, job, token));
      socket.onmessage = function (event) {
        var message;
        try { message = JSON.parse(event.data); } catch (error) { return; }
        if (message.type !== "job.ended" || ended) { return; }
        ended = true;
        socket.close();
        show(element, message);
      };
      socket.onopen = function () { delay = 500; };
      socket.onclose = function () {
        if (ended) { return; }
        setTimeout(connect, delay);
        delay = Math.min(delay * 2, 30000);
      };
    };
    connect();
  }

  function watchAll() {
    document.querySelectorAll("[data-spool-job][data-spool-token]").forEach(watch);
  }

  window.SpoolPush = { watch: watch };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", watchAll);
  } else {
    watchAll();
  }
})();
