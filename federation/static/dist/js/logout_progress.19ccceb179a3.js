// Single Logout page: go on once every participant's frame has loaded, or after data-wait
// seconds whatever they did (a participant that does not answer never keeps the parent here).
(function () {
  "use strict";
  var page = document.getElementById("deconnexion-en-cours");
  if (!page) {
    return;
  }
  var next = page.getAttribute("data-next");
  var frames = page.querySelectorAll("iframe");
  var waiting = frames.length;
  var gone = false;
  function goOn() {
    if (!gone) {
      gone = true;
      window.location.assign(next);
    }
  }
  Array.prototype.forEach.call(frames, function (frame) {
    frame.addEventListener("load", function () {
      waiting -= 1;
      if (waiting <= 0) {
        goOn();
      }
    });
  });
  window.setTimeout(goOn, Number(page.getAttribute("data-wait")) * 1000);
})();
