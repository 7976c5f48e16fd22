// Passkeys (WebAuthn). The server hands out a ceremony as JSON (binary fields in base64url);
// the browser API wants ArrayBuffers. The answer goes back as base64url JSON in an
// ordinary form post, so the server's response (the next page, or the form again with a
// message) is handled by the browser like any other sign-in.
//
// #passkey-form (sign-in, second step): get an assertion, also through the user ID
//   field's autofill when data-conditional is set (conditional mediation).
// #passkey-add (settings): create a discoverable credential.
(function () {
  "use strict";

  function b64uToBuf(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }
  function bufToB64u(buf) {
    var bytes = new Uint8Array(buf), bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function field(form, name) { return form.querySelector("[name=" + name + "]"); }
  var status = document.getElementById("passkey-status");
  function say(text) {
    if (!status) return;
    status.textContent = text;
    status.hidden = !text;
  }
  function explain(err) {
    if (err && err.name === "NotAllowedError") return "The passkey request was cancelled or timed out. Try again.";
    if (err && err.name === "InvalidStateError") return "This passkey is already saved for your user ID.";
    return (err && err.message) || "The passkey could not be used. Try again.";
  }
  // A ceremony from the server: { options, ceremony }.
  function ceremony(form) {
    return fetch(form.dataset.options, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ csrf: field(form, "csrf").value })
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) {
        if (!r.ok || !j.options) throw new Error(j.message || "The passkey could not be used. Try again.");
        return j;
      });
    });
  }
  function send(form, id, credential) {
    field(form, "ceremony").value = id;
    field(form, "credential").value = JSON.stringify(credential);
    form.submit();
  }
  function extensions(cred) {
    return cred.getClientExtensionResults ? cred.getClientExtensionResults() : {};
  }

  var supported = !!window.PublicKeyCredential;
  var unsupported = document.getElementById("passkey-unsupported");
  if (unsupported) unsupported.hidden = supported;

  // Settings: add a passkey.
  var add = document.getElementById("passkey-add");
  if (add && supported) {
    add.hidden = false;
    add.addEventListener("submit", function (e) {
      e.preventDefault();
      say("");
      ceremony(add).then(function (c) {
        var pk = c.options.publicKey;
        pk.challenge = b64uToBuf(pk.challenge);
        pk.user.id = b64uToBuf(pk.user.id);
        (pk.excludeCredentials || []).forEach(function (x) { x.id = b64uToBuf(x.id); });
        return navigator.credentials.create({ publicKey: pk }).then(function (cred) {
          send(add, c.ceremony, {
            id: cred.id, rawId: bufToB64u(cred.rawId), type: cred.type, extensions: extensions(cred),
            response: {
              attestationObject: bufToB64u(cred.response.attestationObject),
              clientDataJSON: bufToB64u(cred.response.clientDataJSON),
              transports: cred.response.getTransports ? cred.response.getTransports() : []
            }
          });
        });
      }).catch(function (err) { say(explain(err)); });
    });
  }

  // Sign-in and second step: use a passkey.
  var form = document.getElementById("passkey-form");
  if (!form || !supported) return;
  form.hidden = false;
  var running = null;

  function use(mediation) {
    if (running) running.abort();
    var controller = new AbortController();
    running = controller;
    return ceremony(form).then(function (c) {
      var pk = c.options.publicKey;
      pk.challenge = b64uToBuf(pk.challenge);
      (pk.allowCredentials || []).forEach(function (x) { x.id = b64uToBuf(x.id); });
      var request = { publicKey: pk, signal: controller.signal };
      if (mediation) request.mediation = mediation;
      return navigator.credentials.get(request).then(function (cred) {
        send(form, c.ceremony, {
          id: cred.id, rawId: bufToB64u(cred.rawId), type: cred.type, extensions: extensions(cred),
          response: {
            authenticatorData: bufToB64u(cred.response.authenticatorData),
            clientDataJSON: bufToB64u(cred.response.clientDataJSON),
            signature: bufToB64u(cred.response.signature),
            userHandle: cred.response.userHandle ? bufToB64u(cred.response.userHandle) : null
          }
        });
      });
    });
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    say("");
    use(null).catch(function (err) {
      if (err && err.name === "AbortError") return;
      say(explain(err));
    });
  });

  // Conditional mediation: the user ID field's autofill offers this site's passkeys.
  if (form.dataset.conditional && PublicKeyCredential.isConditionalMediationAvailable) {
    PublicKeyCredential.isConditionalMediationAvailable().then(function (ok) {
      if (ok) use("conditional").catch(function () {});
    });
  }
})();
