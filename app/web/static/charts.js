// Draws every [data-chart] element with uPlot: {days: ["YYYY-MM-DD"...], series: [{label, values}]}, or
// {labels: [...], series: [...]} for categories (bars; a series with `line: true` is drawn as a line over
// them). No inline script: the data rides in an attribute.
(function () {
  "use strict";
  var PALETTE = ["#0b57d0", "#a4161a", "#1e6b35", "#7a4b00", "#6a1b9a", "#00695c", "#37474f"];

  function draw(node) {
    var spec = JSON.parse(node.getAttribute("data-chart"));
    var categories = spec.labels || spec.days || [];
    if (!categories.length || !window.uPlot) return;
    var xs = categories.map(function (_, i) { return i; });
    var bars = node.getAttribute("data-kind") === "bars";
    var series = [{ label: spec.days ? "Day" : "Category", value: function (_, i) { return i == null ? "" : categories[i]; } }];
    spec.series.forEach(function (s, i) {
      var entry = { label: s.label, stroke: PALETTE[i % PALETTE.length], width: 2 };
      if (bars && !s.line) { entry.fill = PALETTE[i % PALETTE.length]; entry.paths = uPlot.paths.bars({ size: [0.6, 60] }); entry.points = { show: false }; }
      series.push(entry);
    });
    var data = [xs].concat(spec.series.map(function (s) { return s.values; }));
    var options = {
      width: Math.max(280, node.clientWidth || 600),
      height: 220,
      series: series,
      // Bars sit on whole numbers; half a slot of padding keeps the first and last ones whole.
      scales: { x: bars ? { time: false, range: [-0.5, categories.length - 0.5] } : { time: false } },
      axes: [
        {
          splits: function () { return xs; }, // one tick per category or day, never between them
          values: function (_, ticks) { return ticks.map(function (t) { return categories[t] || ""; }); },
        },
        {},
      ],
    };
    if (spec.max != null) options.scales.y = { range: [0, spec.max] };
    new uPlot(options, data, node);
  }

  document.querySelectorAll("[data-chart]").forEach(draw);
})();
