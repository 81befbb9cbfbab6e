// The verify page's drop zone: drop an image onto the Image field's box and it is sent at once.
// Progressive enhancement only: without this script the plain file input and the Verify button
// do the same (the input stays the keyboard's way in: Tab to it, Enter or Space to pick a file).
(function () {
  "use strict";

  function enhance(form) {
    var zone = form.querySelector("[data-dropzone]");
    var input = zone && zone.querySelector("input[type=file]");
    var chosen = zone && zone.querySelector("[data-dropzone-chosen]");
    if (!zone || !input) {
      return;
    }
    zone.classList.add("verify-dropzone--enhanced");

    function say(text) {
      if (chosen) {
        chosen.textContent = text;
      }
    }

    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) {
        event.preventDefault();
        zone.classList.add("verify-dropzone--over");
      });
    });
    ["dragleave", "dragend"].forEach(function (name) {
      zone.addEventListener(name, function () {
        zone.classList.remove("verify-dropzone--over");
      });
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      zone.classList.remove("verify-dropzone--over");
      var files = event.dataTransfer && event.dataTransfer.files;
      if (!files || files.length === 0) {
        return;
      }
      if (files.length > 1) {
        say("Drop one image at a time.");
        return;
      }
      input.files = files;
      say("Verifying " + files[0].name + "…");
      if (form.requestSubmit) {
        form.requestSubmit();
      } else {
        form.submit();
      }
    });
    input.addEventListener("change", function () {
      say(input.files && input.files.length ? "Chosen: " + input.files[0].name + ". Press Verify." : "");
    });
    form.addEventListener("submit", function () {
      var button = form.querySelector("button[type=submit]");
      if (button) {
        button.disabled = true;
        button.textContent = "Verifying…";
      }
    });
  }

  // Back to the page from the browser's history: the button works again.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("[data-verify-form] button[type=submit]").forEach(function (button) {
      button.disabled = false;
      button.textContent = "Verify";
    });
  });

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-verify-form]").forEach(enhance);
  });
})();
