/* Qianbao page behaviour that needs script. Our own code; loaded from our own origin like htmx. */
(function () {
  "use strict";

  // Menu shortcuts: a link with data-shortcut="4" is followed on Alt+4. Handled here rather than with the
  // accesskey attribute because accesskey's modifier differs per browser and Alt+digit would otherwise
  // switch browser tabs on Linux and Windows.
  document.addEventListener("keydown", function (event) {
    if (!event.altKey || event.ctrlKey || event.metaKey || event.shiftKey || event.repeat) return;
    var match = /^Digit([0-9])$/.exec(event.code);
    if (!match) return;
    var link = document.querySelector('a[data-shortcut="' + match[1] + '"]');
    if (!link) return;
    event.preventDefault();
    link.click();
  });
})();
