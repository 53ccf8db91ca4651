// The page's two charts (window.LA.charts), drawn with the vendored lightweight-charts v4:
// the price chart (candles, a mid-price line, entry/exit markers and the position's levels)
// and the equity curve. Both show times in the browser's zone (the library counts in UTC).
"use strict";

(function () {
  const LA = (window.LA = window.LA || {});
  const fmt = LA.fmt;
  const num = (v) => (v === null || v === undefined ? NaN : Number(v));

  function baseOptions(extra) {
    return Object.assign({
      autoSize: true,
      layout: { background: { color: "#161a1f" }, textColor: "#c8cdd2" },
      grid: { vertLines: { color: "#1f252b" }, horzLines: { color: "#1f252b" } },
      localization: { timeFormatter: (t) => fmt.dateTime(t * 1000) },
      timeScale: { timeVisible: true, secondsVisible: false, tickMarkFormatter: fmt.tick },
      rightPriceScale: { borderColor: "#2a3139" },
    }, extra || {});
  }

  const priceFormat = (d) => ({ type: "price", precision: d, minMove: Math.pow(10, -d) });

  function priceChart(el) {
    const st = { lastTickTime: 0, lastCandleTime: 0, levels: [], lines: [], stepS: 60,
      lastMid: NaN };
    const chart = LightweightCharts.createChart(el, baseOptions());
    // Keep the position's levels in view: widen the autoscaled range to them.
    const candles = chart.addCandlestickSeries({
      autoscaleInfoProvider: (original) => {
        const info = original();
        const levels = st.levels.filter((l) => l.inScale).map((l) => l.price);
        if (!info || !info.priceRange || !levels.length) return info;
        info.priceRange.minValue = Math.min(info.priceRange.minValue, ...levels);
        info.priceRange.maxValue = Math.max(info.priceRange.maxValue, ...levels);
        return info;
      },
    });
    const mid = chart.addLineSeries({ color: "#4aa3ff", lineWidth: 1, lastValueVisible: false,
      priceLineVisible: false, crosshairMarkerVisible: false });

    function bar(c) {
      return { time: Math.floor(c.open_time / 1000), open: num(c.open), high: num(c.high),
        low: num(c.low), close: num(c.close) };
    }

    return {
      setDecimals(d) {
        candles.applyOptions({ priceFormat: priceFormat(d) });
        mid.applyOptions({ priceFormat: priceFormat(d) });
      },
      // a new symbol: everything drawn goes
      reset() {
        candles.setData([]); mid.setData([]); candles.setMarkers([]);
        st.lastTickTime = 0; st.lastCandleTime = 0; st.lastMid = NaN;
        this.setLevels([]);
      },
      setCandles(list) {
        const bars = list.map(bar).sort((a, b) => a.time - b.time)
          .filter((b, i, all) => i === 0 || b.time !== all[i - 1].time);
        candles.setData(bars);
        st.lastCandleTime = bars.length ? bars[bars.length - 1].time : 0;
        const steps = bars.slice(1).map((b, i) => b.time - bars[i].time).filter((s) => s > 0);
        if (steps.length) st.stepS = Math.min(...steps);
        chart.timeScale().fitContent();
        return bars.length;
      },
      // true when the candle opened a new bar
      onCandle(c) {
        const b = bar(c);
        if (b.time < st.lastCandleTime || Number.isNaN(b.close)) return false;  // ordered only
        candles.update(b);
        const fresh = b.time > st.lastCandleTime;
        st.lastCandleTime = b.time;
        return fresh;
      },
      // true when plotted
      onTick(t) {
        const value = (num(t.bid) + num(t.ask)) / 2;
        const time = Math.floor(num(t.ts) / 1000);
        if (Number.isNaN(value) || Number.isNaN(time)) return false;
        st.lastMid = value;
        // A restarted daemon's simulator starts its clock over, earlier than the line's last
        // point: start the line afresh rather than ignore every tick until the clock catches
        // up. (A tick at most a few seconds late is only skipped: times must ascend.)
        if (time < st.lastTickTime - 5) { mid.setData([]); st.lastTickTime = 0; }
        if (time < st.lastTickTime) return false;
        mid.update({ time: time, value: value });
        st.lastTickTime = time;
        return true;
      },
      // levels: [{ price, color, key }]; far ones (liquidation) stay off the autoscale
      setLevels(levels) {
        for (const line of st.lines) candles.removePriceLine(line);
        st.lines = [];
        st.levels = levels.filter((l) => !Number.isNaN(num(l.price))).map((l) => ({
          price: num(l.price), color: l.color, key: l.key,
          inScale: l.key !== "liquidation" || Number.isNaN(st.lastMid)
            || Math.abs(num(l.price) - st.lastMid) / st.lastMid < 0.03,
        }));
        for (const l of st.levels) {
          // No title on the pane and no label on the axis (it would cover the axis' own
          // price labels): the legend under the chart names each line with its price.
          st.lines.push(candles.createPriceLine({ price: l.price, color: l.color, lineWidth: 1,
            lineStyle: l.key === "mark" ? 1 : 2, axisLabelVisible: false, title: "" }));
        }
        return st.levels;
      },
      // markers: [{ ms, kind: "entry"|"exit", side, text }], snapped to their candle
      setMarkers(markers) {
        const step = st.stepS || 60;
        const list = markers.map((m) => {
          const long = m.side === "long";
          const buy = m.kind === "entry" ? long : !long;
          return {
            time: Math.floor(m.ms / 1000 / step) * step,
            position: buy ? "belowBar" : "aboveBar",
            color: m.kind === "entry" ? "#4aa3ff" : "#f0b429",
            shape: buy ? "arrowUp" : "arrowDown",
            text: m.text,
          };
        }).sort((a, b) => a.time - b.time);
        candles.setMarkers(list);
        return list.length;
      },
    };
  }

  function equityChart(el) {
    const chart = LightweightCharts.createChart(el, baseOptions({
      leftPriceScale: { visible: true, borderColor: "#2a3139" },
    }));
    const money = { type: "price", precision: 2, minMove: 0.01 };
    const equity = chart.addAreaSeries({ lineColor: "#4aa3ff", topColor: "rgba(74,163,255,0.25)",
      bottomColor: "rgba(74,163,255,0.02)", lineWidth: 2, priceFormat: money, title: "" });
    const balance = chart.addLineSeries({ color: "#c8cdd2", lineWidth: 1, lineStyle: 2,
      priceFormat: money, lastValueVisible: false, priceLineVisible: false });
    const unrealized = chart.addLineSeries({ color: "#ab47bc", lineWidth: 1,
      priceScaleId: "left", priceFormat: money, priceLineVisible: false, lastValueVisible: false });
    const funding = chart.addLineSeries({ color: "#ff9800", lineWidth: 1, lineStyle: 1,
      priceScaleId: "left", priceFormat: money, priceLineVisible: false, lastValueVisible: false });

    return {
      // points: the /equity points, oldest first; answers how many were drawn
      setPoints(points) {
        const bySecond = new Map();
        for (const p of points) bySecond.set(Math.floor(p.ts / 1000), p);  // the last wins
        const rows = [...bySecond.entries()].sort((a, b) => a[0] - b[0]);
        const series = (key) => rows.filter(([, p]) => p[key] !== null && p[key] !== undefined)
          .map(([time, p]) => ({ time: time, value: num(p[key]) }));
        equity.setData(series("equity"));
        balance.setData(series("balance"));
        unrealized.setData(series("unrealized"));
        funding.setData(series("funding_paid"));
        chart.timeScale().fitContent();
        return rows.length;
      },
    };
  }

  LA.charts = { priceChart, equityChart };
})();
