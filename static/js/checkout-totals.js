// The checkout's totals follow the shopper's country and delivery option without a reload:
// the server works them out (GET data-totals-url) and sends the delivery options, the
// summary and a new signed quote; this script only swaps them in. Without it, the form
// still works: the server prices what was submitted and asks to confirm a changed total.
(function () {
  "use strict";
  var form = document.querySelector("form[data-totals-url]");
  if (!form || !window.fetch) { return; }
  var methods = document.getElementById("delivery-methods");
  var summary = document.getElementById("order-summary");
  var button = form.querySelector("button[type=submit]");
  var latest = 0;

  function chosen(name) {
    var field = form.querySelector("[name=" + name + "]:checked") || form.querySelector("select[name=" + name + "]");
    return field ? field.value : "";
  }

  function reprice() {
    var ticket = ++latest;
    var query = new URLSearchParams({ country: chosen("country"), shipping_method: chosen("shipping_method") });
    form.setAttribute("aria-busy", "true");
    if (button) { button.disabled = true; }
    fetch(form.dataset.totalsUrl + "?" + query.toString(), { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : Promise.reject(response.status); })
      .then(function (data) {
        if (ticket !== latest) { return; }
        methods.innerHTML = data.methods;
        summary.innerHTML = data.summary;
        form.querySelector("input[name=quote]").value = data.quote;
        if (button) { button.disabled = button.hasAttribute("data-blocked") || !form.querySelector("[name=shipping_method]"); }
      })
      .catch(function () {
        // The server prices the order again on submit and shows any change to confirm.
        if (button && ticket === latest) { button.disabled = button.hasAttribute("data-blocked"); }
      })
      .finally(function () { if (ticket === latest) { form.removeAttribute("aria-busy"); } });
  }

  form.addEventListener("change", function (event) {
    if (event.target.hasAttribute("data-checkout-reprice")) { reprice(); }
  });
})();
