/* An export job's page: its progress bar and line follow the job API until the job ends,
   then the page reloads once to show the link (or the reason it failed). */
(function () {
  "use strict";
  var GM = window.GroundMotion;
  var box = document.getElementById("job-live");
  if (!box) return;
  var bar = document.getElementById("job-progress");
  var line = document.getElementById("job-line");
  var state = document.getElementById("job-state");

  function poll() {
    fetch(box.dataset.url, { credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (job) {
        bar.value = job.progress || 0;
        line.dataset.progress = job.progress;
        line.replaceChildren(GM.downloadDialog.progressText(job));
        state.replaceChildren("State: ", GM.el("strong", null, job.state === "queued" ? "Queued" : "Running"));
        if (job.state === "queued" || job.state === "running") setTimeout(poll, 1000);
        else window.location.reload();
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  poll();
})();
