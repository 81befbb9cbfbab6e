// The portal's upload page: files, folders and ZIP archives chosen or dropped are sent one
// request each, a few at a time, with a progress bar over all their bytes; then the upload is
// processed and the browser goes to its page (progress, then one row per file).
// Resume-safe: the server keeps a file only once it arrived whole; after a dropped connection
// the page asks which names arrived and sends only the others ("Send the missing files again").
// Progressive enhancement: without this file the form posts every file at once.
(function () {
  "use strict";

  var PARALLEL = 3;
  var TRIES = 3;

  function csrfToken(form) {
    return form.querySelector("input[name=csrfmiddlewaretoken]").value;
  }

  function fileName(file) {
    return file.uploadName || file.webkitRelativePath || file.name;
  }

  // A dropped folder: every file inside it, with its path relative to the dropped item.
  function readEntry(entry, prefix, into) {
    return new Promise(function (resolve) {
      if (entry.isFile) {
        entry.file(function (file) {
          file.uploadName = prefix + file.name;
          into.push(file);
          resolve();
        }, function () { resolve(); });
      } else if (entry.isDirectory) {
        var reader = entry.createReader();
        var children = [];
        var readMore = function () {
          reader.readEntries(function (batch) {
            if (!batch.length) {
              Promise.all(children.map(function (child) {
                return readEntry(child, prefix + entry.name + "/", into);
              })).then(resolve);
              return;
            }
            children = children.concat(Array.prototype.slice.call(batch));
            readMore();
          }, function () { resolve(); });
        };
        readMore();
      } else {
        resolve();
      }
    });
  }

  function Uploader(form) {
    this.form = form;
    this.dropped = [];
    this.progress = document.getElementById("upload-progress");
    this.bar = document.getElementById("upload-bytes");
    this.text = document.getElementById("upload-progress-text");
    this.error = document.getElementById("upload-error");
    this.retry = document.getElementById("upload-retry");
    this.session = null;
    var self = this;

    var drop = document.getElementById("upload-drop");
    document.getElementById("upload-drop-hint").hidden = false;
    drop.addEventListener("dragover", function (event) {
      event.preventDefault();
      drop.classList.add("upload-drop--over");
    });
    drop.addEventListener("dragleave", function () { drop.classList.remove("upload-drop--over"); });
    drop.addEventListener("drop", function (event) {
      if (event.target.matches && event.target.matches("input[type=file]")) return;  // the input takes it itself
      event.preventDefault();
      drop.classList.remove("upload-drop--over");
      var items = Array.prototype.slice.call(event.dataTransfer.items || []);
      var found = [];
      Promise.all(items.map(function (item) {
        var entry = item.webkitGetAsEntry ? item.webkitGetAsEntry() : null;
        if (entry) return readEntry(entry, "", found);
        var file = item.getAsFile();
        if (file) found.push(file);
        return Promise.resolve();
      })).then(function () {
        self.dropped = self.dropped.concat(found);
        document.getElementById("upload-drop-hint").textContent =
          self.dropped.length + " file" + (self.dropped.length === 1 ? "" : "s") + " dropped here, to be sent with those chosen above.";
      });
    });
    form.addEventListener("submit", function (event) {
      var files = self.chosen();
      if (!files.length) return;  // the server says what is missing
      event.preventDefault();
      self.start(files);
    });
    this.retry.addEventListener("click", function () { self.resume(); });
  }

  Uploader.prototype.chosen = function () {
    var files = [];
    this.form.querySelectorAll("input[type=file]").forEach(function (input) {
      files = files.concat(Array.prototype.slice.call(input.files));
    });
    return files.concat(this.dropped);
  };

  Uploader.prototype.say = function (text) { this.text.textContent = text; };

  Uploader.prototype.fail = function (message) {
    this.error.textContent = message;
    this.error.hidden = false;
  };

  Uploader.prototype.start = function (files) {
    var self = this;
    this.files = files;
    this.error.hidden = true;
    var body = new FormData();
    body.append("csrfmiddlewaretoken", csrfToken(this.form));
    body.append("dataset", this.form.elements.dataset.value);
    body.append("consent", this.form.elements.consent.value);
    this.form.querySelector("button[type=submit]").disabled = true;
    // (not form.dataset: the form has a field named "dataset", which shadows it)
    fetch(this.form.getAttribute("data-start-url"), { method: "POST", body: body, credentials: "same-origin" })
      .then(function (response) {
        return response.json().catch(function () { return { error: "The server did not answer as expected (" + response.status + ")." }; })
          .then(function (data) { return { ok: response.ok, data: data }; });
      })
      .then(function (answer) {
        if (!answer.ok) {
          self.form.querySelector("button[type=submit]").disabled = false;
          self.progress.hidden = false;
          self.fail(answer.data.error || "The upload could not start.");
          return;
        }
        self.session = answer.data;
        self.progress.hidden = false;
        self.progress.scrollIntoView();
        self.send(answer.data.received);
      })
      .catch(function () {
        self.form.querySelector("button[type=submit]").disabled = false;
        self.progress.hidden = false;
        self.fail("The server could not be reached. Check your connection and try again.");
      });
  };

  // Ask which files arrived (after a dropped connection), then send the others.
  Uploader.prototype.resume = function () {
    var self = this;
    this.retry.hidden = true;
    this.error.hidden = true;
    fetch(this.session.files_url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (data) { self.send(data.received); })
      .catch(function () {
        self.retry.hidden = false;
        self.fail("The server still cannot be reached. Your files that arrived are kept; try again in a moment.");
      });
  };

  Uploader.prototype.send = function (alreadyReceived) {
    var self = this;
    var received = {};
    (alreadyReceived || []).forEach(function (name) { received[name] = true; });
    var todo = this.files.filter(function (file) { return !received[fileName(file)]; });
    var totalBytes = this.files.reduce(function (sum, file) { return sum + file.size; }, 0) || 1;
    var doneBytes = this.files.reduce(function (sum, file) { return sum + (received[fileName(file)] ? file.size : 0); }, 0);
    var inFlight = {};
    var sentFiles = this.files.length - todo.length;
    var failed = [];
    var refusal = null;
    var next = 0;
    var running = 0;

    function update() {
      var flying = 0;
      Object.keys(inFlight).forEach(function (key) { flying += inFlight[key]; });
      self.bar.max = totalBytes;
      self.bar.value = Math.min(totalBytes, doneBytes + flying);
      self.say(sentFiles + " of " + self.files.length + " files sent (" + Math.round(100 * self.bar.value / totalBytes) + "%).");
    }

    function sendOne(file, index, tries) {
      running += 1;
      var request = new XMLHttpRequest();
      var body = new FormData();
      body.append("csrfmiddlewaretoken", csrfToken(self.form));
      body.append("name", fileName(file));
      body.append("file", file, file.name);
      request.open("POST", self.session.files_url);
      request.setRequestHeader("X-CSRFToken", csrfToken(self.form));
      request.upload.addEventListener("progress", function (event) {
        inFlight[index] = event.loaded;
        update();
      });
      request.addEventListener("loadend", function () {
        running -= 1;
        delete inFlight[index];
        if (request.status === 201) {
          sentFiles += 1;
          doneBytes += file.size;
        } else if (request.status === 409 || request.status === 413 || request.status === 400) {
          var answer = {};
          try { answer = JSON.parse(request.responseText); } catch (ignore) { answer = {}; }
          refusal = answer.error || (request.status === 413
            ? fileName(file) + " is larger than the server accepts in one request."
            : "The server refused " + fileName(file) + ".");
        } else if (tries + 1 < TRIES) {
          running += 1;  // counted again by sendOne
          setTimeout(function () { running -= 1; sendOne(file, index, tries + 1); }, 500 * (tries + 1));
          return;
        } else {
          failed.push(file);
        }
        update();
        pump();
      });
      request.send(body);
    }

    function pump() {
      while (!refusal && running < PARALLEL && next < todo.length) {
        sendOne(todo[next], next, 0);
        next += 1;
      }
      if (running > 0) return;
      if (refusal) {
        self.fail(refusal + " The files sent so far are kept; nothing was processed yet.");
        self.retry.hidden = true;
        return;
      }
      if (failed.length) {
        self.fail(failed.length + " file" + (failed.length === 1 ? "" : "s") + " did not arrive (the connection dropped). The others are kept.");
        self.retry.hidden = false;
        return;
      }
      self.process();
    }

    update();
    pump();
  };

  Uploader.prototype.process = function () {
    var self = this;
    this.say("All " + this.files.length + " files sent. Starting the checks…");
    var body = new FormData();
    body.append("csrfmiddlewaretoken", csrfToken(this.form));
    fetch(this.session.process_url, { method: "POST", body: body, credentials: "same-origin" })
      .then(function (response) { window.location.assign(response.ok ? response.url : self.session.page_url); })
      .catch(function () { window.location.assign(self.session.page_url); });
  };

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("upload-form");
    if (form && window.FormData && window.fetch) new Uploader(form);
  });
})();
