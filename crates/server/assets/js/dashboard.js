// The dashboard's filter form navigates as soon as a filter changes (the Apply button does the
// same without JavaScript), and leaves unused fields out of the URL so links stay short.
(function () {
  "use strict";
  var form = document.getElementById("filters");
  if (!form) { return; }
  var field = function (name) { return form.elements.namedItem(name); };
  var range = field("range");

  function tidy() {
    var custom = range && range.value === "custom";
    ["from", "to"].forEach(function (n) { var f = field(n); if (f && !custom) { f.disabled = true; } });
    ["grain", "repo", "team"].forEach(function (n) { var f = field(n); if (f && !f.value) { f.disabled = true; } });
  }

  form.addEventListener("submit", tidy);
  form.addEventListener("change", function (e) {
    var t = e.target;
    if (t.name === "from" || t.name === "to") {
      if (range) { range.value = "custom"; }
      if (!field("from").value || !field("to").value) { return; }
    } else if (t.name === "range" && t.value === "custom") {
      field("from").focus();
      return;
    }
    tidy();
    form.submit();
  });
  // Back/Forward may restore the page with the fields still disabled.
  window.addEventListener("pageshow", function () {
    Array.prototype.forEach.call(form.elements, function (f) { f.disabled = false; });
  });
})();
