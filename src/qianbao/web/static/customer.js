/* Customer app: the "resend code" countdown. Our own code, loaded from our own origin.
   A button with data-countdown="N" stays disabled for N seconds, showing data-countdown-label with {seconds}
   filled in, then shows the form's [data-resend-ready] text and becomes clickable. Without script the button
   is disabled for the first page view only, and the server still refuses a code asked for too soon. */
(function () {
  "use strict";

  function start(button) {
    var left = parseInt(button.getAttribute("data-countdown") || "0", 10);
    var label = button.getAttribute("data-countdown-label") || "{seconds}";
    var text = button.querySelector(".countdown-text") || button;
    var ready = button.form && button.form.querySelector("[data-resend-ready]");
    function tick() {
      if (left <= 0) {
        button.disabled = false;
        if (ready) text.textContent = ready.textContent;
        return;
      }
      button.disabled = true;
      text.textContent = label.replace("{seconds}", String(left));
      left -= 1;
      window.setTimeout(tick, 1000);
    }
    tick();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var buttons = document.querySelectorAll("button[data-countdown]");
    for (var i = 0; i < buttons.length; i++) start(buttons[i]);
  });
})();
