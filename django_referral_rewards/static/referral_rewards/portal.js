/* django-referral-rewards: small progressive enhancements of the member portal.
   Every page works without this script; it only adds a "Copy" button next to share
   links (the button stays hidden when the script does not run). */
(function () {
  "use strict";
  function copy(button) {
    var target = document.getElementById(button.getAttribute("data-copy-target"));
    if (!target) { return; }
    var text = target.value || target.textContent;
    var done = function () {
      var original = button.textContent;
      button.textContent = button.getAttribute("data-copied-text") || original;
      button.setAttribute("aria-live", "polite");
      window.setTimeout(function () { button.textContent = original; }, 2000);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { target.select(); });
    } else {
      target.select();
      try { document.execCommand("copy"); done(); } catch (e) { /* the text stays selected */ }
    }
  }
  document.addEventListener("DOMContentLoaded", function () {
    var buttons = document.querySelectorAll(".rr-copy[data-copy-target]");
    Array.prototype.forEach.call(buttons, function (button) {
      button.hidden = false;
      button.addEventListener("click", function () { copy(button); });
    });
  });
})();
