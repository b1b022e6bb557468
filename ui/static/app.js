// Valueloop dashboard: the little script it has. Every page works without
// it; it only adds confirm dialogs to forms marked data-confirm and a live
// refresh of pages marked data-refresh (paused while a form is in use, a
// link or button has the keyboard's focus (not a mouse click's), a table is open or text is
// selected: a reload sent the focus back to the top and dropped a
// selection).
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
    // A field is in use however it got the focus; a link or button only
    // when the keyboard put it there (:focus-visible): a mouse click
    // leaves its link focused, without a ring, on the page it left and on
    // the page gone back to, which would never refresh again.
    var field = a && (a.tagName === "INPUT" || a.tagName === "TEXTAREA" || a.tagName === "SELECT");
    var busy = field || (a && a !== document.body && a !== document.documentElement && a.matches(":focus-visible"));
    var open = document.querySelector("details[open]");
    var selected = String(window.getSelection()) !== "";
    if (!busy && !open && !selected && document.visibilityState === "visible") {
      window.location.reload();
    }
  }, secs * 1000);
})();
