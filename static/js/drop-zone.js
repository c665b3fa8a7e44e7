// Pictures dropped on the editor's zone are sent as if chosen with its file picker.
(function () {
  "use strict";
  document.querySelectorAll("form[data-drop-zone]").forEach(function (form) {
    var input = form.querySelector("input[type=file]");
    ["dragenter", "dragover"].forEach(function (name) {
      form.addEventListener(name, function (event) { event.preventDefault(); form.classList.add("dragging"); });
    });
    form.addEventListener("dragleave", function () { form.classList.remove("dragging"); });
    form.addEventListener("drop", function (event) {
      event.preventDefault();
      form.classList.remove("dragging");
      if (!event.dataTransfer || !event.dataTransfer.files.length) { return; }
      input.files = event.dataTransfer.files;
      form.requestSubmit();
    });
    input.addEventListener("change", function () { if (input.files.length) { form.requestSubmit(); } });
  });
})();
