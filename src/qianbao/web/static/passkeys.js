/* Passkeys (WebAuthn) in the customer app: add one on the security page, sign in with one on the sign-in
   page. Our own code, loaded from our own origin. The server's JSON options carry binary fields as
   base64url; they are turned into ArrayBuffers here and the browser's answer back into base64url JSON.
   Errors from the server are problem+json: its `detail` is shown in the [data-passkey-error] element. */
(function () {
  "use strict";

  var API = "/api/v1/customer/passkeys";

  function toBuffer(value) {
    var base64 = value.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) base64 += "=";
    var binary = window.atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    if (!buffer) return null;
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
    return window.btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function creationOptions(json) {
    var options = Object.assign({}, json);
    options.challenge = toBuffer(json.challenge);
    options.user = Object.assign({}, json.user, { id: toBuffer(json.user.id) });
    options.excludeCredentials = (json.excludeCredentials || []).map(function (c) {
      return Object.assign({}, c, { id: toBuffer(c.id) });
    });
    return options;
  }

  function requestOptions(json) {
    var options = Object.assign({}, json);
    options.challenge = toBuffer(json.challenge);
    options.allowCredentials = (json.allowCredentials || []).map(function (c) {
      return Object.assign({}, c, { id: toBuffer(c.id) });
    });
    return options;
  }

  function credentialJSON(credential) {
    var response = credential.response;
    var out = {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || null,
      clientExtensionResults: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
      response: { clientDataJSON: toBase64url(response.clientDataJSON) }
    };
    if (response.attestationObject) {
      out.response.attestationObject = toBase64url(response.attestationObject);
      if (response.getTransports) out.response.transports = response.getTransports();
    } else {
      out.response.authenticatorData = toBase64url(response.authenticatorData);
      out.response.signature = toBase64url(response.signature);
      out.response.userHandle = toBase64url(response.userHandle);
    }
    return out;
  }

  function post(path, csrf, body) {
    return window.fetch(API + path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body || {})
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) throw new Error(data.detail || response.statusText);
        return data;
      });
    });
  }

  function showError(box, error) {
    if (!box) return;
    // The person closing the browser's dialog is not an error worth a red box.
    if (error && error.name === "NotAllowedError") {
      box.hidden = true;
      return;
    }
    box.textContent = (error && error.message) || String(error);
    box.hidden = false;
  }

  function supported() {
    return !!(window.PublicKeyCredential && navigator.credentials && navigator.credentials.create);
  }

  function setUpAdd(button) {
    var box = button.parentNode.querySelector("[data-passkey-error]");
    button.addEventListener("click", function () {
      var csrf = button.getAttribute("data-csrf");
      button.disabled = true;
      if (box) box.hidden = true;
      post("/register/options", csrf)
        .then(function (json) { return navigator.credentials.create({ publicKey: creationOptions(json) }); })
        .then(function (credential) { return post("/register", csrf, { credential: credentialJSON(credential) }); })
        .then(function () { window.location.assign("/app/security?done=passkey_added"); })
        .catch(function (error) { showError(box, error); button.disabled = false; });
    });
  }

  function setUpLogin(button) {
    var box = button.parentNode.querySelector("[data-passkey-error]");
    button.addEventListener("click", function () {
      var csrf = button.getAttribute("data-csrf");
      button.disabled = true;
      if (box) box.hidden = true;
      post("/login/options", csrf)
        .then(function (json) { return navigator.credentials.get({ publicKey: requestOptions(json) }); })
        .then(function (credential) {
          return post("/login", csrf, { credential: credentialJSON(credential), next: button.getAttribute("data-next") || "" });
        })
        .then(function (data) { window.location.assign(data.redirect || "/app"); })
        .catch(function (error) { showError(box, error); button.disabled = false; });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (!supported()) return;
    var blocks = document.querySelectorAll("[data-passkey-register], [data-passkey-signin]");
    for (var i = 0; i < blocks.length; i++) blocks[i].hidden = false;
    var notes = document.querySelectorAll("[data-passkey-unsupported]");
    for (var j = 0; j < notes.length; j++) notes[j].hidden = true;
    var add = document.querySelector("[data-passkey-add]");
    if (add) setUpAdd(add);
    var login = document.querySelector("[data-passkey-login]");
    if (login) setUpLogin(login);
  });
})();
