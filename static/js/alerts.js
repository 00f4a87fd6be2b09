// Keyboard for the alert queue: j / k move between alerts, a acknowledges the focused one,
// s opens its snooze choice, r goes to its resolve note. Typing in a field is left alone.
(function () {
  function rows() { return Array.from(document.querySelectorAll("tr.alert-row")); }
  function current() { return document.activeElement && document.activeElement.closest("tr.alert-row"); }
  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    var tag = (event.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "select" || tag === "textarea") return;
    var all = rows(), row = current(), index = row ? all.indexOf(row) : -1;
    if (event.key === "j" || event.key === "k") {
      var next = all[Math.min(all.length - 1, Math.max(0, index + (event.key === "j" ? 1 : -1)))];
      if (next) { next.focus(); event.preventDefault(); }
      return;
    }
    if (!row) return;
    var target = row.querySelector('[data-key="' + event.key + '"]');
    if (!target) return;
    event.preventDefault();
    if (target.tagName.toLowerCase() === "button") target.click(); else target.focus();
  });
  // After an htmx swap the row is new: keep the keyboard where it was.
  document.body.addEventListener("htmx:afterSwap", function (event) {
    var row = event.detail.target && document.getElementById(event.detail.target.id);
    if (row && row.classList.contains("alert-row")) row.focus();
  });
})();
