// Front-channel logout (OpenID Connect Front-Channel Logout 1.0 §4): the signed-out page
// loads each application's logout URL in a hidden frame, then continues to where the
// application asked to go once every frame has loaded (or after three seconds, so one slow
// application cannot hold the person here). Without JavaScript the "Continue" link works.
(function () {
  "use strict";
  var next = document.getElementById("continue");
  if (!next) return;
  var frames = document.querySelectorAll("iframe.logout-frame");
  var pending = frames.length;
  var gone = false;
  function go() {
    if (gone) return;
    gone = true;
    window.location.assign(next.getAttribute("href"));
  }
  if (pending === 0) { go(); return; }
  frames.forEach(function (f) {
    f.addEventListener("load", function () { pending -= 1; if (pending <= 0) go(); });
    f.addEventListener("error", function () { pending -= 1; if (pending <= 0) go(); });
  });
  window.setTimeout(go, 3000);
})();
