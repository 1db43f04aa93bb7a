/* Draws the dashboard's charts with the vendored Chart.js from the figures the page carries (no request of its own):
   each main KPI per period, or per slice when the report is cut by one. */
(function () {
  "use strict";
  var data = document.getElementById("charts");
  if (!data || typeof Chart === "undefined") return;
  var charts = JSON.parse(data.textContent);
  var COLOURS = ["#1f6feb", "#2e7d32", "#d97706", "#9333ea", "#dc2626", "#0891b2", "#4b5563"];

  function scaled(unit) {
    return unit === "rate" ? function (v) { return Math.round(v * 1000) / 10 + "%"; } : undefined;
  }

  charts.series.forEach(function (item, n) {
    var canvas = document.querySelector('canvas[data-chart="' + item.name + '"]');
    if (!canvas) return;
    var sliced = charts.by && item.slices && item.slices.length;
    var config = sliced ? {
      type: "bar",
      data: { labels: item.slices.map(function (s) { return s.slice; }),
              datasets: [{ label: item.title, data: item.slices.map(function (s) { return s.value; }),
                           backgroundColor: COLOURS[n % COLOURS.length] }] },
    } : {
      type: item.unit === "count" ? "bar" : "line",
      data: { labels: charts.periods,
              datasets: [{ label: item.title, data: item.values, spanGaps: true,
                           borderColor: COLOURS[n % COLOURS.length], backgroundColor: COLOURS[n % COLOURS.length] }] },
    };
    config.options = { responsive: true, maintainAspectRatio: false, animation: false,
                       plugins: { legend: { display: false } },
                       scales: { y: { beginAtZero: true, ticks: { callback: scaled(item.unit) } } } };
    canvas.chart = new Chart(canvas, config);
  });
})();
