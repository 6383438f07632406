// The downloads page's one script: today's live count, asked again every few seconds
// (the page's data-refresh) from the API, /downloads/point/{today}/{package}. The page is
// whole without it; this only keeps the counts under "Today so far" up to date.
(function () {
  "use strict";
  var outputs = document.querySelectorAll("output.live[data-package]");
  var seconds = Number(document.body.getAttribute("data-refresh")) || 30;
  if (!outputs.length) {
    return;
  }
  function refresh(output) {
    var url = "downloads/point/" + output.getAttribute("data-day") + "/" +
      encodeURIComponent(output.getAttribute("data-package"));
    fetch(url, { cache: "no-cache" })
      .then(function (answer) { return answer.ok ? answer.json() : null; })
      .then(function (document_) {
        if (document_ && typeof document_.downloads === "number") {
          output.textContent = document_.downloads.toLocaleString("en-US");
          output.setAttribute("data-updated", new Date().toISOString());
        }
      })
      .catch(function () { /* the next round tries again */ });
  }
  window.setInterval(function () { outputs.forEach(refresh); }, seconds * 1000);
})();
