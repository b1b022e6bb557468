// Valueloop dashboard: the little script it has. Every page works without
// it; it only adds confirm dialogs to forms marked data-confirm and a live
// refresh of pages marked data-refresh (paused while a form is in use).
"use strict";
document.addEventListener("submit", function (e) {
  var msg = e.target.getAttribute("data-confirm");
  if (msg && !window.confirm(msg)) {
    e.preventDefault();
  }
});
(function () {
  var secs = parseInt(document.body.getAttribute("data-refresh"), 10);
  if (!secs) {
    return;
  }
  setInterval(function () {
    var a = document.activeElement;
    var busy = a && (a.tagName === "INPUT" || a.tagName === "TEXTAREA" || a.tagName === "SELECT");
    var open = document.querySelector("details[open]");
    if (!busy && !open && document.visibilityState === "visible") {
      window.location.reload();
    }
  }, secs * 1000);
})();
