// Pre-selects the browser's time zone on the signup form when the person has not chosen one.
(function () {
  var select = document.getElementById("id_timezone");
  if (!select || select.dataset.touched) return;
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && select.value === "UTC" && select.querySelector('option[value="' + zone + '"]')) select.value = zone;
  } catch (e) { /* an old browser: UTC stays selected */ }
})();
