{% raw %}
(function () {
  "use strict";
  function key(row, col) {
    var cell = row.cells[col];
    if (!cell) { return ""; }
    var v = cell.getAttribute("data-sort");
    return (v === null ? cell.textContent : v).trim();
  }
  var collator = new Intl.Collator(undefined, {numeric: true, sensitivity: "base"});
  function compare(a, b) {
    var x = Number(a), y = Number(b);
    if (!isNaN(x) && !isNaN(y)) { return x - y; }
    return collator.compare(a, b);
  }
  function column(th) {
    return th.hasAttribute("data-col") ? Number(th.getAttribute("data-col")) : th.cellIndex;
  }
  function sortBy(table, th, descending) {
    var col = column(th), body = table.tBodies[0], sign = descending ? -1 : 1;
    var items = Array.prototype.map.call(body.rows, function (row, i) {
      return {row: row, key: key(row, col), i: i};
    });
    items.sort(function (p, q) {
      var a = p.key, b = q.key;
      if (a === "" || b === "") { return (a === "") - (b === "") || p.i - q.i; }
      return sign * compare(a, b) || p.i - q.i;
    });
    var next = body.nextSibling;
    table.removeChild(body);  // reorder off the page: one layout, not one per row
    items.forEach(function (item) { body.appendChild(item.row); });
    table.insertBefore(body, next);
    table.querySelectorAll("th[aria-sort]").forEach(function (h) {
      h.removeAttribute("aria-sort");
    });
    th.setAttribute("aria-sort", descending ? "descending" : "ascending");
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    table.querySelectorAll("thead th:not(.group)").forEach(function (th) {
      th.tabIndex = 0;
      th.title = "sort by this column";
      function toggle() {
        sortBy(table, th, th.getAttribute("aria-sort") === "ascending");
      }
      th.addEventListener("click", toggle);
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); toggle(); }
      });
    });
  });
  // #sort=TABLE_ID.COLUMN.asc|desc sorts a table when the page opens
  var m = /^#sort=([\w-]+)\.(\d+)\.(asc|desc)$/.exec(location.hash);
  if (m) {
    var table = document.getElementById(m[1]);
    var th = table && Array.prototype.filter.call(
      table.querySelectorAll("thead th:not(.group)"),
      function (h) { return column(h) === Number(m[2]); })[0];
    if (th) { sortBy(table, th, m[3] === "desc"); }
  }
  document.documentElement.setAttribute("data-sortable", "ready");
})();
{% endraw %}
