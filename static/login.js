// Shows a Caps Lock warning while typing the password. No other behaviour: the form works
// without JavaScript.
(function () {
  "use strict";
  var pw = document.getElementById("password");
  var hint = document.getElementById("caps-hint");
  if (!pw || !hint) return;
  function update(e) {
    if (typeof e.getModifierState !== "function") return;
    hint.hidden = !e.getModifierState("CapsLock");
  }
  pw.addEventListener("keydown", update);
  pw.addEventListener("keyup", update);
  pw.addEventListener("blur", function () { hint.hidden = true; });
})();
