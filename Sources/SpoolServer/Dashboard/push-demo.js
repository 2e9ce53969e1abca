// The push demo page: enqueue a spool.http job, watch its end with push.js.
(function () {
  "use strict";
  var form = document.getElementById("render");
  var list = document.getElementById("previews");
  var error = document.getElementById("error");

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var title = document.getElementById("title").value;
    var request = {
      request: { method: "POST", url: location.origin + "/demo/app/render", form: { fields: { title: title } }, task: "demo.render" },
      queue: "demo"
    };
    fetch("/v1/http-jobs", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(request) })
      .then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok) { throw new Error(body.error ? body.error.message : "enqueue answered " + response.status); }
          return body;
        });
      })
      .then(function (job) {
        error.hidden = true;
        var item = document.createElement("li");
        item.setAttribute("data-spool-job", job.id);
        item.setAttribute("data-spool-token", job.subscribeToken);
        item.textContent = "Rendering “" + title + "” (job " + job.id + ")…";
        list.prepend(item);
        window.SpoolPush.watch(item);
      })
      .catch(function (failure) {
        error.textContent = failure.message;
        error.hidden = false;
      });
  });
  document.body.dataset.ready = "true";
})();
