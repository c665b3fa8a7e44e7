// The variant picker in place: choosing a value finds the variant those choices make (from the
// list the server put in #picker-variants), and shows its price and stock, marks the values that
// would leave nothing in stock, puts the chosen colour's pictures first, sets the variant the
// buy form adds and keeps the choice in the URL. Without it, the picker is a plain GET form.
(function () {
  "use strict";
  var form = document.querySelector("form[data-variant-picker]");
  var data = document.getElementById("picker-variants");
  if (!form || !data) { return; }
  var variants = JSON.parse(data.textContent);
  var axes = Array.prototype.map.call(form.querySelectorAll("fieldset"), function (fieldset) {
    return fieldset.querySelector("input[type=radio]").name;
  });
  var price = document.querySelector("[data-picker-price]");
  var stock = document.querySelector("[data-picker-stock]");
  var hidden = document.querySelector("[data-picker-variant]");
  var add = document.querySelector("[data-picker-add]");
  var gallery = document.querySelector(".gallery");

  function chosen() {
    var choice = {};
    axes.forEach(function (name) {
      var input = form.querySelector("input[name='" + name + "']:checked");
      if (input) { choice[name] = input.dataset.value; }
    });
    return choice;
  }

  function fits(variant, choice) {
    return Object.keys(choice).every(function (name) { return variant.options[name] === choice[name]; });
  }

  function show() {
    var choice = chosen();
    var complete = Object.keys(choice).length === axes.length;
    var variant = complete ? variants.filter(function (v) { return fits(v, choice); })[0] : null;
    form.querySelectorAll("input[type=radio]").forEach(function (input) {
      var other = Object.assign({}, choice);
      other[input.name] = input.dataset.value;
      var inStock = variants.some(function (v) { return v.buyable && fits(v, other); });
      input.closest("label").classList.toggle("sold-out", !inStock);
      var legend = form.querySelector("[data-picker-chosen='" + input.name + "']");
      if (input.checked && legend) { legend.textContent = input.dataset.value; }
    });
    var note = price.querySelector(".tax-note");
    // A choice not made shows the product's lowest price, as the page does without a choice.
    if (variant) { price.innerHTML = variant.price + " "; } else { price.textContent = price.dataset.pickerFrom + " "; }
    if (note) { price.appendChild(note); }
    stock.textContent = variant ? variant.stock : "Not made in this combination: choose another.";
    stock.className = variant && variant.buyable ? "in" : "out";
    hidden.value = variant ? variant.id : "";
    add.disabled = !(variant && variant.buyable);
    if (gallery) {
      var colours = Object.keys(choice).map(function (name) { return choice[name]; });
      Array.prototype.slice.call(gallery.querySelectorAll("img"))
        .filter(function (img) { return colours.indexOf(img.dataset.colour) !== -1; })
        .reverse()
        .forEach(function (img) { gallery.insertBefore(img, gallery.firstChild); });
    }
    var query = new URLSearchParams(new FormData(form)).toString();
    history.replaceState(null, "", window.location.pathname + (query ? "?" + query : ""));
  }

  form.addEventListener("change", show);
})();
