// An htmx request whose answer is not swapped (a 403, 404 or 500; a form error is a 422 and is
// swapped like a success) would otherwise change nothing on screen: say so next to the form or
// control that sent it. The same in every mode: the page is never replaced by the bare answer.
(function () {
  var MARK = "data-htmx-error";

  function explain(status) {
    if (status === 403) return "Not allowed: you may have been logged out. Reload the page to carry on.";
    if (status === 404) return "That is no longer here: reload the page to see what is.";
    if (status === 0) return "The server could not be reached: check the connection and try again.";
    return "That did not work (error " + status + " on our side) and nothing was changed. Try again, or reload the page.";
  }

  // One such note at a time: the next request (from anywhere) takes the old one away.
  function clear() {
    document.querySelectorAll("[" + MARK + "]").forEach(function (note) { note.remove(); });
  }

  function show(elt, status) {
    if (!elt || !elt.isConnected) elt = document.querySelector("main") || document.body;
    clear();
    var note = document.createElement("p");
    note.className = "error";
    note.setAttribute("role", "alert");
    note.setAttribute(MARK, "");
    note.textContent = explain(status);
    if (elt.tagName === "MAIN" || elt === document.body) elt.prepend(note);
    else elt.insertAdjacentElement("afterend", note);
  }

  document.addEventListener("htmx:beforeRequest", clear);
  document.addEventListener("htmx:responseError", function (event) {
    show(event.detail.elt, event.detail.xhr ? event.detail.xhr.status : 0);
  });
  document.addEventListener("htmx:sendError", function (event) { show(event.detail.elt, 0); });
})();
