// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";

  // Print buttons on the referral package (hidden without JavaScript).
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });

  // The mandatory-report duty, shown as soon as the intake form shows it applies.
  // The server decides again on submission; this only saves a round trip.
  var notice = document.getElementById("duty-notice");
  var form = notice && document.querySelector("form.register");
  if (form) {
    var categories = (notice.getAttribute("data-categories") || "").split(" ");
    var value = function (name) {
      var field = form.elements[name];
      if (!field) { return ""; }
      return field.type === "checkbox" ? field.checked : field.value.trim();
    };
    var update = function () {
      var victimGiven = value("v_name") || value("v_relation") || value("v_is_minor") || value("v_lacks_capacity");
      var prefix = victimGiven ? "v_" : "c_";
      var vulnerable = value(prefix + "is_minor") || value(prefix + "lacks_capacity");
      notice.hidden = !(vulnerable && categories.indexOf(value("category")) >= 0);
    };
    form.addEventListener("change", update);
    form.addEventListener("input", update);
  }

  // Open the action whose form came back with errors, and bring it into view.
  var failed = document.querySelector("details.action[open] .form-error, details.action[open] .error");
  if (failed) {
    var box = failed.closest("details");
    box.scrollIntoView({ block: "start" });
    var first = box.querySelector("[aria-invalid='true'], input, textarea, select");
    if (first) { first.focus({ preventScroll: true }); }
  }
})();
