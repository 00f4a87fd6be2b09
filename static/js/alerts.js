// Keyboard for the alert queue: j / k move between alerts, a acknowledges the focused one,
// s opens its snooze choice, r goes to its resolve note, x ticks it for a bulk action. Typing in a field is left alone.
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
    if (target.tagName.toLowerCase() === "button" || target.type === "checkbox") target.click(); else target.focus();
  });
  // After an htmx swap the row is new: keep the keyboard where it was.
  document.body.addEventListener("htmx:afterSwap", function (event) {
    var row = event.detail.target && document.getElementById(event.detail.target.id);
    if (row && row.classList.contains("alert-row")) row.focus();
  });
  // The bulk bar says how many are ticked; the header box ticks the whole page.
  function ticked() { return document.querySelectorAll("input.bulk-pick:checked").length; }
  function recount() {
    var label = document.getElementById("bulk-count");
    if (!label) return;
    var n = ticked();
    if (n) label.textContent = n + (n === 1 ? " alert ticked" : " alerts ticked");
  }
  document.addEventListener("change", function (event) {
    if (event.target.id === "bulk-all") {
      document.querySelectorAll("input.bulk-pick").forEach(function (box) { box.checked = event.target.checked; });
    }
    if (event.target.id === "bulk-all" || event.target.classList.contains("bulk-pick")) recount();
  });
})();
