// Tables on a phone: each row becomes a stacked card whose cells carry their column's name.
// The names come from the table's own header (copied into data-label once, and again after
// htmx swaps rows in); the CSS that stacks them applies only on narrow screens.
(function () {
  function label(table) {
    var head = table.tHead;
    if (!head || !head.rows.length) return;
    var names = Array.from(head.rows[0].cells).map(function (th) { return th.textContent.trim(); });
    table.classList.add("stackable");
    Array.from(table.tBodies).forEach(function (body) {
      Array.from(body.rows).forEach(function (row) {
        var column = 0;
        Array.from(row.cells).forEach(function (cell) {
          if (!cell.hasAttribute("data-label") && names[column]) cell.setAttribute("data-label", names[column]);
          column += cell.colSpan || 1;
        });
      });
    });
  }
  function all() { document.querySelectorAll("main table").forEach(label); }
  document.addEventListener("DOMContentLoaded", all);
  document.addEventListener("htmx:afterSwap", all);
})();
