// A strength hint while choosing a password. Advice only: the server enforces the policy
// (length, not containing the user ID, not a common password). Nothing leaves the page.
(function () {
  "use strict";
  var pw = document.getElementById("new-password");
  var out = document.getElementById("password-strength");
  var user = document.getElementById("username");
  if (!pw || !out) return;
  var min = parseInt(pw.getAttribute("minlength"), 10) || 12;
  function classes(s) {
    var n = 0;
    if (/[a-z]/.test(s)) n++;
    if (/[A-Z]/.test(s)) n++;
    if (/[0-9]/.test(s)) n++;
    if (/[^A-Za-z0-9]/.test(s)) n++;
    return n;
  }
  function update() {
    var s = pw.value;
    var u = user ? user.value.trim().toLowerCase() : "";
    if (!s) { out.textContent = ""; return; }
    if (s.length < min) { out.textContent = "Too short: " + (min - s.length) + " more characters needed."; return; }
    if (u.length >= 3 && s.toLowerCase().indexOf(u) !== -1) { out.textContent = "Must not contain your user ID."; return; }
    if (/^(.)\1+$/.test(s) || /^(0123|1234|abcd|qwer|pass)/i.test(s)) { out.textContent = "Weak: easy to guess."; return; }
    var score = s.length + 3 * classes(s) + (/\s/.test(s) ? 4 : 0);
    out.textContent = score >= 28 ? "Strength: strong." : score >= 20 ? "Strength: good." : "Strength: fair. A longer password is stronger.";
  }
  pw.addEventListener("input", update);
  if (user) user.addEventListener("input", update);
})();
