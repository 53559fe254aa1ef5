/* Merchant payments in the customer app: scanning a QR code with the camera or from a picture, and confirming
   a payment with a passkey. Our own code, loaded from our own origin; the QR decoder is the vendored
   zxing-wasm (ZXingWASM global, /static/vendor/zxing-wasm/), whose WebAssembly is fetched from beside it.

   Scan page ([data-scan]): "open the camera" starts the rear camera and reads a frame every 200 ms until a
   QR code is found; choosing a picture decodes it here. Either way the decoded text goes into the form's
   `payload` field and the form is posted. If the picture cannot be decoded here (no WebAssembly, or no
   code found) the form is posted with the picture and the server decodes it (zxing-cpp).

   Passkey buttons ([data-passkey-pay]): ask /api/v1/customer/passkeys/step-up/options for the button's
   binding, let the browser sign, put the answer (JSON) in the form's `passkey` field and post the form. */
(function () {
  "use strict";

  var VENDOR = "/static/vendor/zxing-wasm/";
  var READ_OPTIONS = { formats: ["QRCode"], tryHarder: true, maxNumberOfSymbols: 1 };
  var prepared = false;

  function zxing() {
    var lib = window.ZXingWASM;
    if (!lib) return null;
    if (!prepared) {
      lib.prepareZXingModule({
        overrides: {
          locateFile: function (path, prefix) {
            return /\.wasm$/.test(path) ? VENDOR + path : prefix + path;
          }
        }
      });
      prepared = true;
    }
    return lib;
  }

  function firstText(results) {
    for (var i = 0; i < (results || []).length; i++) {
      if (results[i] && results[i].isValid && results[i].text) return results[i].text;
    }
    return null;
  }

  function setStatus(root, key) {
    var status = root.querySelector("[data-scan-status]");
    if (!status) return;
    status.textContent = status.getAttribute("data-msg-" + key) || "";
    status.setAttribute("data-state", key);
  }

  function submitPayload(form, text) {
    form.querySelector("input[name=payload], textarea[name=payload]").value = text;
    var file = form.querySelector("input[type=file]");
    if (file) file.value = "";
    form.submit();
  }

  // ---- the camera ------------------------------------------------------------------------------------
  function startCamera(root, form) {
    var video = root.querySelector("video[data-scan-video]");
    var lib = zxing();
    if (!video || !lib || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      setStatus(root, "unsupported");
      return;
    }
    setStatus(root, "starting");
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false })
      .then(function (stream) {
        video.srcObject = stream;
        video.hidden = false;
        return video.play().then(function () { return stream; });
      })
      .then(function (stream) {
        setStatus(root, "scanning");
        var canvas = document.createElement("canvas");
        var context = canvas.getContext("2d", { willReadFrequently: true });
        var busy = false;
        var timer = window.setInterval(function () {
          if (busy || !video.videoWidth) return;
          busy = true;
          canvas.width = video.videoWidth;
          canvas.height = video.videoHeight;
          context.drawImage(video, 0, 0, canvas.width, canvas.height);
          var frame = context.getImageData(0, 0, canvas.width, canvas.height);
          lib.readBarcodes(frame, READ_OPTIONS).then(function (results) {
            busy = false;
            var text = firstText(results);
            if (!text) return;
            window.clearInterval(timer);
            stream.getTracks().forEach(function (track) { track.stop(); });
            setStatus(root, "found");
            submitPayload(form, text);
          }, function () { busy = false; });
        }, 200);
      })
      .catch(function () { setStatus(root, "denied"); });
  }

  // ---- a picture -------------------------------------------------------------------------------------
  function readPicture(root, form, input) {
    var file = input.files && input.files[0];
    if (!file) return;
    var lib = zxing();
    if (!lib) { form.submit(); return; }
    setStatus(root, "decoding");
    lib.readBarcodes(file, READ_OPTIONS).then(function (results) {
      var text = firstText(results);
      if (text) { submitPayload(form, text); return; }
      form.submit();  // the server tries too, and explains if it finds nothing
    }, function () { form.submit(); });
  }

  function initScan(root) {
    var form = root.querySelector("form[data-scan-form]");
    if (!form) return;
    var start = root.querySelector("[data-scan-start]");
    if (start) start.addEventListener("click", function () { startCamera(root, form); });
    var input = form.querySelector("input[type=file]");
    if (input) input.addEventListener("change", function () { readPicture(root, form, input); });
    root.setAttribute("data-ready", "true");
  }

  // ---- passkeys --------------------------------------------------------------------------------------
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

  function payWithPasskey(button) {
    var form = button.form;
    var error = form && form.querySelector("[data-passkey-error]");
    var options = {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json",
                 "X-CSRF-Token": button.getAttribute("data-csrf") },
      body: JSON.stringify({ binding: button.getAttribute("data-binding") })
    };
    window.fetch("/api/v1/customer/passkeys/step-up/options", options)
      .then(function (response) {
        return response.json().then(function (data) {
          if (!response.ok) throw new Error(data.detail || response.statusText);
          return data;
        });
      })
      .then(function (json) {
        var request = Object.assign({}, json);
        request.challenge = toBuffer(json.challenge);
        request.allowCredentials = (json.allowCredentials || []).map(function (c) {
          return Object.assign({}, c, { id: toBuffer(c.id) });
        });
        return navigator.credentials.get({ publicKey: request });
      })
      .then(function (credential) {
        var response = credential.response;
        form.querySelector("input[name=passkey]").value = JSON.stringify({
          id: credential.id,
          rawId: toBase64url(credential.rawId),
          type: credential.type,
          authenticatorAttachment: credential.authenticatorAttachment || null,
          clientExtensionResults: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
          response: {
            clientDataJSON: toBase64url(response.clientDataJSON),
            authenticatorData: toBase64url(response.authenticatorData),
            signature: toBase64url(response.signature),
            userHandle: toBase64url(response.userHandle)
          }
        });
        var pin = form.querySelector("input[name=pin]");
        if (pin) pin.value = "";
        if (form.requestSubmit) form.requestSubmit(); else form.submit();
      })
      .catch(function (failure) {
        if (error) { error.hidden = false; error.textContent = failure.message || String(failure); }
      });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-passkey-pay]");
    if (!button) return;
    event.preventDefault();
    payWithPasskey(button);
  });

  document.addEventListener("DOMContentLoaded", function () {
    var roots = document.querySelectorAll("[data-scan]");
    for (var i = 0; i < roots.length; i++) initScan(roots[i]);
  });
})();
