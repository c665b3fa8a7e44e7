// On a phone the listing's filters start closed behind their "Filter" button, so the products come
// first; on a wider screen, and without scripts, they stay open beside the products.
(function () {
  "use strict";
  var drawer = document.querySelector("[data-filter-drawer]");
  if (drawer && window.matchMedia("(max-width: 859px)").matches) { drawer.open = false; }
})();
