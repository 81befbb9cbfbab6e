// The consent form's "Add another person" button: appends a depicted-person row made from the
// formset's empty form and counts it in the management form. Progressive enhancement: without
// this file the form has a fixed number of person rows.
(function () {
  "use strict";

  function start() {
    var button = document.getElementById("add-person");
    var template = document.getElementById("person-template");
    var rows = document.getElementById("person-rows");
    var total = document.getElementById("id_person-TOTAL_FORMS");
    var max = document.getElementById("id_person-MAX_NUM_FORMS");
    if (!button || !template || !rows || !total) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      var index = parseInt(total.value, 10);
      if (max && index >= parseInt(max.value, 10)) {
        button.disabled = true;
        return;
      }
      var row = template.content.firstElementChild.cloneNode(true);
      row.innerHTML = row.innerHTML.replace(/__prefix__/g, String(index));
      row.querySelector("legend").textContent = "Person " + (index + 1);
      rows.appendChild(row);
      total.value = String(index + 1);
      var name = row.querySelector("input[type=text]");
      if (name) name.focus();
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
