// Live activity: rows arrive over server-sent events and are prepended to the table.
(function () {
  "use strict";
  var table = document.getElementById("live");
  var status = document.getElementById("live-status");
  if (!table || !window.EventSource) { return; }
  var source = new EventSource(table.getAttribute("data-stream"));
  function cell(row, text, cls) {
    var td = document.createElement("td");
    if (cls) {
      var span = document.createElement("span");
      span.className = "badge b-" + cls;
      span.textContent = text;
      td.appendChild(span);
    } else {
      td.textContent = text;
    }
    row.appendChild(td);
  }
  source.addEventListener("record", function (e) {
    var r = JSON.parse(e.data);
    var row = document.createElement("tr");
    cell(row, String(r.seq));
    cell(row, r.ts);
    cell(row, r.agent || "");
    cell(row, r.resource || "");
    cell(row, r.decision || r.kind, r.decision || "info");
    cell(row, r.summary || "");
    table.insertBefore(row, table.firstChild);
    while (table.children.length > 200) { table.removeChild(table.lastChild); }
  });
  source.onopen = function () { if (status) { status.textContent = "Live: connected"; } };
  source.onerror = function () { if (status) { status.textContent = "Live: reconnecting…"; } };
})();
