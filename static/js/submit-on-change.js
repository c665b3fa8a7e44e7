// Send a filter form as soon as one of its marked controls changes (e.g. the sort order).
(function () {
  "use strict";
  document.querySelectorAll("[data-submit-on-change]").forEach(function (control) {
    control.addEventListener("change", function () { control.form.requestSubmit(); });
  });
})();
