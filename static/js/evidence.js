// The asset page's evidence: zoom on the image (buttons, + / - / 0 while the image has the
// focus, Ctrl + wheel, drag to move; the boxes drawn over it follow), and for a near-duplicate
// the other image laid over this one (Overlay, Flicker, Difference, and its opacity).
// Progressive enhancement: without this file the image, the boxes and the outlines are all
// there, drawn by the server; only these controls are missing. Styles are set through the
// CSSOM (element.style), which the Content-Security-Policy allows, never as attributes.
(function () {
  "use strict";

  var MIN_ZOOM = 1;
  var MAX_ZOOM = 8;
  var STEP = 1.25;
  // Past this zoom the page's 1024-px thumbnail is swapped for the original.
  var ORIGINAL_FROM = 1.5;
  // Below three changes a second (WCAG 2.3.1, three flashes).
  var FLICKER_MS = 700;

  function clamp(value, low, high) {
    return Math.min(high, Math.max(low, value));
  }

  // --- zoom ------------------------------------------------------------------------------
  function Zoom(viewport, controls) {
    this.viewport = viewport;
    this.stage = viewport.querySelector(".zoom__stage");
    this.image = this.stage.querySelector("img");
    this.level = controls ? controls.querySelector("output") : null;
    this.scale = 1;
    this.x = 0;
    this.y = 0;
    this.drag = null;
    var self = this;

    if (controls) {
      controls.hidden = false;
      controls.querySelector("[data-zoom-in]").addEventListener("click", function () { self.by(STEP); });
      controls.querySelector("[data-zoom-out]").addEventListener("click", function () { self.by(1 / STEP); });
      controls.querySelector("[data-zoom-reset]").addEventListener("click", function () { self.reset(); });
    }
    viewport.addEventListener("keydown", function (event) {
      if (event.target !== viewport || event.altKey || event.ctrlKey || event.metaKey) return;
      var handled = true;
      switch (event.key) {
        case "+": case "=": self.by(STEP); break;
        case "-": case "_": self.by(1 / STEP); break;
        case "0": self.reset(); break;
        case "ArrowLeft": self.pan(40, 0); break;
        case "ArrowRight": self.pan(-40, 0); break;
        case "ArrowUp": self.pan(0, 40); break;
        case "ArrowDown": self.pan(0, -40); break;
        default: handled = false;
      }
      if (handled) event.preventDefault();
    });
    viewport.addEventListener("wheel", function (event) {
      if (!event.ctrlKey) return;  // a plain wheel scrolls the page, as everywhere else
      event.preventDefault();
      var box = viewport.getBoundingClientRect();
      self.by(event.deltaY < 0 ? STEP : 1 / STEP, event.clientX - box.left, event.clientY - box.top);
    }, { passive: false });
    viewport.addEventListener("pointerdown", function (event) {
      if (self.scale === 1 || event.button !== 0) return;
      self.drag = { id: event.pointerId, x: event.clientX, y: event.clientY };
      viewport.setPointerCapture(event.pointerId);
      viewport.classList.add("zoom--dragging");
      event.preventDefault();
    });
    viewport.addEventListener("pointermove", function (event) {
      if (!self.drag || event.pointerId !== self.drag.id) return;
      self.pan(event.clientX - self.drag.x, event.clientY - self.drag.y);
      self.drag.x = event.clientX;
      self.drag.y = event.clientY;
    });
    function release(event) {
      if (!self.drag || event.pointerId !== self.drag.id) return;
      self.drag = null;
      viewport.classList.remove("zoom--dragging");
    }
    viewport.addEventListener("pointerup", release);
    viewport.addEventListener("pointercancel", release);
    this.image.addEventListener("dragstart", function (event) { event.preventDefault(); });
  }

  Zoom.prototype.by = function (factor, atX, atY) {
    var width = this.viewport.clientWidth;
    var height = this.viewport.clientHeight;
    var x = atX === undefined ? width / 2 : atX;
    var y = atY === undefined ? height / 2 : atY;
    var next = clamp(this.scale * factor, MIN_ZOOM, MAX_ZOOM);
    // Keep the point under the cursor (or the centre) where it is.
    this.x = x - (x - this.x) * (next / this.scale);
    this.y = y - (y - this.y) * (next / this.scale);
    this.scale = next;
    this.apply();
  };

  Zoom.prototype.pan = function (dx, dy) {
    this.x += dx;
    this.y += dy;
    this.apply();
  };

  Zoom.prototype.reset = function () {
    this.scale = 1;
    this.x = 0;
    this.y = 0;
    this.apply();
  };

  Zoom.prototype.apply = function () {
    var width = this.viewport.clientWidth;
    var height = this.viewport.clientHeight;
    this.x = clamp(this.x, width - width * this.scale, 0);
    this.y = clamp(this.y, height - height * this.scale, 0);
    this.stage.style.transform = "translate(" + this.x + "px, " + this.y + "px) scale(" + this.scale + ")";
    this.viewport.classList.toggle("zoom--zoomed", this.scale > 1);
    if (this.level) this.level.textContent = Math.round(this.scale * 100) + "%";
    var original = this.image.getAttribute("data-original");
    if (original && this.scale >= ORIGINAL_FROM && this.image.getAttribute("src") !== original) {
      this.image.setAttribute("src", original);
    }
  };

  // --- near-duplicate comparison ------------------------------------------------------------
  function numbers(text) {
    return (text || "").split(",").map(parseFloat);
  }

  function Compare(root) {
    this.root = root;
    this.frame = root.querySelector("[data-compare-frame]");
    this.overlay = root.querySelector(".compare__overlay");
    this.tools = root.querySelector(".compare__tools");
    this.opacity = root.querySelector("[data-compare-opacity]");
    this.buttons = Array.prototype.slice.call(root.querySelectorAll("[data-compare-mode]"));
    this.mode = null;
    this.timer = null;
    if (!this.overlay || !this.tools) return;
    this.homography = numbers(this.overlay.getAttribute("data-homography"));
    this.assetSize = numbers(this.overlay.getAttribute("data-asset-size"));
    this.referenceSize = numbers(this.overlay.getAttribute("data-reference-size"));
    var self = this;
    this.tools.hidden = false;
    this.buttons.forEach(function (button) {
      button.addEventListener("click", function () {
        var mode = button.getAttribute("data-compare-mode");
        self.choose(self.mode === mode ? null : mode);
      });
    });
    this.opacity.addEventListener("input", function () { self.show(); });
    window.addEventListener("resize", function () { if (self.mode) self.place(); });
  }

  Compare.prototype.choose = function (mode) {
    this.mode = mode;
    this.buttons.forEach(function (button) {
      button.setAttribute("aria-pressed", String(button.getAttribute("data-compare-mode") === mode));
    });
    window.clearInterval(this.timer);
    this.timer = null;
    this.overlay.hidden = !mode;
    this.frame.classList.toggle("compare__frame--difference", mode === "difference");
    if (!mode) return;
    this.place();
    this.show();
    if (mode === "flicker") {
      var self = this;
      var visible = true;
      this.timer = window.setInterval(function () {
        visible = !visible;
        self.overlay.style.opacity = visible ? "1" : "0";
      }, FLICKER_MS);
    }
  };

  Compare.prototype.show = function () {
    if (this.mode === "overlay") this.overlay.style.opacity = String(this.opacity.value / 100);
    else if (this.mode) this.overlay.style.opacity = "1";
  };

  // The other image at its own size in pixels, carried onto this one by the homography
  // (reference pixels → asset pixels), then scaled to the size this image is shown at.
  Compare.prototype.place = function () {
    var shown = this.frame.querySelector("img").getBoundingClientRect();
    var sx = shown.width / this.assetSize[0];
    var sy = shown.height / this.assetSize[1];
    var h = this.homography;
    var style = this.overlay.style;
    style.width = this.referenceSize[0] + "px";
    style.height = this.referenceSize[1] + "px";
    // CSS matrix3d is column-major; the homography's third row becomes the w column.
    style.transform = "matrix3d(" + [
      sx * h[0], sy * h[3], 0, h[6],
      sx * h[1], sy * h[4], 0, h[7],
      0, 0, 1, 0,
      sx * h[2], sy * h[5], 0, h[8]
    ].join(",") + ")";
  };

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-zoom]"), function (viewport) {
      var controls = viewport.parentElement.querySelector(".zoom-controls");
      viewport.zoom = new Zoom(viewport, controls);
    });
    Array.prototype.forEach.call(document.querySelectorAll("[data-compare]"), function (root) {
      if (!root.compare) root.compare = new Compare(root);
    });
  }

  start();
  // A decision swaps a finding in place (htmx): its comparison, if any, needs its controls again.
  document.body.addEventListener("htmx:afterSettle", function () {
    Array.prototype.forEach.call(document.querySelectorAll("[data-compare]"), function (root) {
      if (!root.compare) root.compare = new Compare(root);
    });
  });
})();
