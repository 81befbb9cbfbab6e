// The asset page's keyboard shortcuts: j/k next/previous image, r the reason, d dismiss,
// c confirm, ? the list of shortcuts. Progressive enhancement: without this file every action
// is a link or a form button.
(function () {
  "use strict";

  var overlay = document.getElementById("shortcuts");
  var opener = document.getElementById("shortcuts-open");
  var closer = document.getElementById("shortcuts-close");
  var lastFocus = null;

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  function firstOpenForm() {
    return document.querySelector("form.decision");
  }

  function showShortcuts() {
    lastFocus = document.activeElement;
    overlay.hidden = false;
    closer.focus();
  }

  function hideShortcuts() {
    overlay.hidden = true;
    if (lastFocus && lastFocus.focus) lastFocus.focus();
  }

  function decide(decision) {
    var form = firstOpenForm();
    if (!form) return;
    var button = form.querySelector('button[value="' + decision + '"]');
    if (!button || button.disabled) return;
    var reason = form.querySelector(".decision__reason");
    if (!reason.value.trim()) {
      // The reason is required: take the reviewer there rather than post a refusal.
      reason.focus();
      reason.reportValidity();
      return;
    }
    // A click, not requestSubmit(): htmx reads the decision from the button that was clicked.
    button.click();
  }

  function follow(key) {
    var link = document.querySelector('a[data-key="' + key + '"]');
    if (link) window.location.assign(link.href);
  }

  if (opener) {
    opener.hidden = false;
    opener.addEventListener("click", showShortcuts);
  }
  if (closer) closer.addEventListener("click", hideShortcuts);

  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    if (overlay && !overlay.hidden) {
      if (event.key === "Escape" || event.key === "?") {
        event.preventDefault();
        hideShortcuts();
      }
      return;
    }
    if (typing(event.target)) {
      if (event.key === "Escape") event.target.blur();
      // Enter in a reason field dismisses nothing by accident: it submits the form's first
      // button (Dismiss), as a plain form would; that is the browser's own behaviour.
      return;
    }
    var handled = true;
    switch (event.key) {
      case "j": follow("j"); break;
      case "k": follow("k"); break;
      case "d": decide("dismiss"); break;
      case "c": decide("confirm"); break;
      case "r": {
        var form = firstOpenForm();
        if (form) form.querySelector(".decision__reason").focus();
        break;
      }
      case "?": if (overlay) showShortcuts(); break;
      default: handled = false;
    }
    if (handled) event.preventDefault();
  });
})();
