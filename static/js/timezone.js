// Pre-selects the browser's time zone on the signup form when the person has not chosen one.
(function () {
  var input = document.getElementById("id_timezone");
  var list = document.getElementById("timezone-options");
  if (!input || !list) return;
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    // Only over the untouched default, and only to a zone the form accepts (one on the list).
    var known = Array.prototype.some.call(list.options, function (o) { return o.value === zone; });
    if (zone && input.value === "UTC" && known) input.value = zone;
  } catch (e) { /* an old browser: UTC stays selected */ }
})();
