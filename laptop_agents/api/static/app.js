// laptop-agents browser page: a dashboard of the paper-trading daemon. Live ticks, candles,
// trades and status over WS /ws; candles, trades and the equity history over HTTP; Pause,
// Resume and Flatten with the token. No build step, no CDN: the chart library is served from
// the package (static/vendor). The other files: format.js (numbers, times), net.js (HTTP,
// token, socket), charts.js (price and equity charts), panels.js (tables and panels).
"use strict";

(function () {
  const { fmt, net, charts, panels } = window.LA;
  const $ = (id) => document.getElementById(id);
  const DAY_MS = 86400000;
  const EQUITY_PERIOD_MS = 5000;
  const state = {
    status: null, selected: null, symbols: [], decimals: {}, trades: [], symbolTrades: [],
    today: null, dayStart: null, lastTs: 0, timers: {},
  };
  // Counters and values the browser tests read; harmless for people.
  const dash = (window.laDashboard = {
    ticks: 0, plotted: 0, candles: 0, statuses: 0, trades: 0, connects: 0, subscribed: 0,
    markers: 0, equityPoints: -1, equityLast: null, equityRefreshes: 0, chartSymbol: null,
    todayRealized: null, levels: [], equityLastTs: 0, decimals: {},
  });

  const price = charts.priceChart($("chart"));
  const equity = charts.equityChart($("equity-chart"));
  const decimals = (symbol) => (symbol in state.decimals ? state.decimals[symbol] : 2);

  // The instrument's price decimals: the most any of its quotes or candles was sent with.
  function learn(symbol, ...values) {
    if (!symbol) return;
    const before = decimals(symbol);
    let d = symbol in state.decimals ? state.decimals[symbol] : 0;
    for (const v of values) d = Math.max(d, fmt.decimalsOf(v));
    state.decimals[symbol] = d;
    dash.decimals[symbol] = d;
    if (d !== before && symbol === state.selected) {
      price.setDecimals(d);
      if (state.status) onStatus(state.status, true);
    }
  }

  function symbolView(s, symbol) {
    const own = (s.symbols || {})[symbol];
    if (own) return own;
    return { feed: s.feed || {}, gate: s.gate || {}, position: s.position,
      last_quote: null, warmup: s.warmup, strategy: s.strategy };
  }

  function openPositions(s) {
    if (s.symbols) {
      return Object.entries(s.symbols).filter(([, v]) => v.position)
        .map(([symbol, v]) => ({ symbol, position: v.position }));
    }
    return s.position ? [{ symbol: s.symbol, position: s.position }] : [];
  }

  // --- the symbol selector ---------------------------------------------------------------
  function updateSymbols(s) {
    const list = s.symbols ? Object.keys(s.symbols) : [s.symbol];
    if (!state.selected || !list.includes(state.selected)) {
      const saved = sessionStorage.getItem("la_symbol");
      state.selected = list.includes(saved) ? saved : list[0];
      dash.chartSymbol = state.selected;
    }
    if (list.join() !== state.symbols.join()) {
      state.symbols = list;
      const select = $("symbol-select");
      select.replaceChildren(...list.map((symbol) => new Option(symbol, symbol)));
      select.value = state.selected;
      $("symbol-picker").hidden = list.length < 2;
      $("all-symbols").parentElement.hidden = list.length < 2;
    }
    for (const symbol of list) {
      const view = symbolView(s, symbol);
      const q = view.last_quote || {};
      learn(symbol, q.bid, q.ask, (view.feed || {}).bid, (view.feed || {}).ask);
    }
  }

  async function selectSymbol(symbol) {
    if (symbol === state.selected) return;
    state.selected = symbol;
    sessionStorage.setItem("la_symbol", symbol);
    $("symbol-select").value = symbol;
    price.reset();
    price.setDecimals(decimals(symbol));
    for (const id of ["bid", "ask", "last"]) $(id).textContent = fmt.DASH;
    dash.chartSymbol = symbol;
    if (state.status) onStatus(state.status, true);
    await loadChart();
  }

  $("symbol-select").addEventListener("change", (e) => selectSymbol(e.target.value));

  // --- live messages ---------------------------------------------------------------------
  function onTick(t) {
    learn(t.symbol, t.bid, t.ask);
    state.lastTs = Math.max(state.lastTs, Number(t.ts) || 0);
    if (t.symbol && t.symbol !== state.selected) return;
    const d = decimals(state.selected);
    $("bid").textContent = fmt.price(t.bid, d);
    $("ask").textContent = fmt.price(t.ask, d);
    $("last").textContent = fmt.price(t.last, d);
    if (price.onTick(t)) dash.plotted += 1;
    dash.ticks += 1;
  }

  function onCandle(c) {
    learn(c.symbol, c.open, c.high, c.low, c.close);
    if (c.symbol && c.symbol !== state.selected) return;
    if (price.onCandle(c)) dash.candles += 1;
  }

  function onTrade(t) {
    dash.trades += 1;
    if (!state.trades.some((x) => x.trade_id === t.trade_id)) state.trades.unshift(t);
    state.trades = state.trades.slice(0, 50);
    panels.trades(state.trades, decimals);
    if (t.symbol === state.selected && !state.symbolTrades.some((x) => x.trade_id === t.trade_id)) {
      state.symbolTrades.unshift(t);
      drawMarkers();
    }
    soon("today", loadToday, 200);
    soon("equity", loadEquity, 300);
  }

  function onStatus(s, again) {
    if (!again) dash.statuses += 1;
    state.status = s;
    updateSymbols(s);
    const symbol = state.selected;
    const view = symbolView(s, symbol);
    const d = decimals(symbol);
    $("symbol").textContent = symbol;
    $("chart-symbol").textContent = symbol;
    $("source").textContent = s.source ? `(${s.source}, ${s.mode || ""})` : "";
    timeNote(s);
    const feed = view.feed || {};
    $("feed-state").textContent = fmt.missing(feed.state) ? fmt.DASH : feed.state;
    $("feed-state").className = feed.state === "connected" ? "good" : "bad";
    $("feed-age").textContent = typeof feed.last_tick_age_s === "number"
      ? `last tick ${feed.last_tick_age_s.toFixed(1)} s ago` : "";
    const gate = view.gate || {};
    $("gate").textContent = gate.trading_allowed ? "trading" : "paused";
    $("gate").className = gate.trading_allowed ? "good" : "warn";
    $("reasons").textContent = (gate.reasons || []).join(", ");
    const p = view.position;
    const mark = p && !fmt.missing(p.mark_price) ? p.mark_price
      : symbol === s.symbol ? (s.funding || {}).mark_price : null;
    $("mark").textContent = fmt.price(mark, d);
    panels.account(s, state.today);
    panels.position(p, symbol, d);
    const open = openPositions(s);
    panels.positions(open, decimals, symbol);
    panels.health(s, feed);
    panels.gates(state.symbols.map((name) => ({ symbol: name, gate: symbolView(s, name).gate || {} })));
    panels.tasks(s);
    drawLevels(p, mark, d);
    const shape = open.map((o) => `${o.symbol}:${o.position.opened_ms}:${o.position.size}`).join();
    if (shape !== state.positionShape) {
      state.positionShape = shape;
      drawMarkers();
      soon("equity", loadEquity, 300);  // a fill: the curve moves
    }
  }

  function drawLevels(p, mark, d) {
    const levels = [];
    if (p) {
      levels.push({ key: "entry", price: p.entry, color: "#c8cdd2" },
        { key: "stop", price: p.stop, color: "#ef5350" },
        { key: "target", price: p.target, color: "#26a69a" },
        { key: "liquidation", price: p.liquidation_price, color: "#ff9800" });
    }
    if (!fmt.missing(mark)) levels.push({ key: "mark", price: mark, color: "#ab47bc" });
    const shown = price.setLevels(levels.filter((l) => !fmt.missing(l.price)));
    dash.levels = shown.map((l) => l.key);
    $("chart-legend").replaceChildren(...shown.map((l) => {
      const item = document.createElement("span");
      item.dataset.level = l.key;
      const swatch = document.createElement("i");
      swatch.style.borderColor = l.color;
      item.append(swatch, `${l.key} ${fmt.price(l.price, d)}${l.inScale ? "" : " (off scale)"}`);
      return item;
    }));
  }

  function drawMarkers() {
    const symbol = state.selected;
    const view = state.status ? symbolView(state.status, symbol) : {};
    const markers = [];
    for (const t of state.symbolTrades) {
      markers.push({ ms: t.opened_ms, kind: "entry", side: t.side, text: `${t.side} in` },
        { ms: t.closed_ms, kind: "exit", side: t.side,
          text: `out ${fmt.money(t.realized_pnl, { sign: true })}` });
    }
    const p = view.position;
    if (p && !fmt.missing(p.opened_ms)) {
      markers.push({ ms: p.opened_ms, kind: "entry", side: p.side, text: `${p.side} in` });
    }
    dash.markers = price.setMarkers(markers);
  }

  function timeNote(s) {
    const rate = (s.feed || {}).exchange_clock_rate;
    const sim = s.source === "sim";
    const speed = sim && typeof rate === "number" && rate > 1.05 ? `, running ${rate.toFixed(0)}× real time` : "";
    $("time-note").textContent = `Times in your zone (${fmt.zone()})` +
      (sim ? `: simulated exchange time${speed}.` : ".");
    for (const el of document.querySelectorAll(".tz")) {
      el.textContent = `${fmt.zone()}${sim ? ", simulated" : ""}`;
    }
  }

  // --- HTTP reads ------------------------------------------------------------------------
  function soon(name, fn, ms) {
    clearTimeout(state.timers[name]);
    state.timers[name] = setTimeout(() => fn().catch(report), ms);
  }

  function report(error) {
    $("message").textContent = `refresh: ${error.message}`;
  }

  async function loadChart() {
    const symbol = state.selected;
    const q = encodeURIComponent(symbol);
    const [candles, trades] = await Promise.all([
      net.api("GET", `/candles?limit=300&symbol=${q}`),
      net.api("GET", `/trades?limit=200&symbol=${q}`)]);
    if (symbol !== state.selected) return;  // switched again meanwhile
    if (candles) {
      const list = candles.candles || [];
      for (const c of list.slice(-20)) learn(symbol, c.open, c.high, c.low, c.close);
      dash.candles = price.setCandles(list);
    }
    if (trades) state.symbolTrades = trades.trades || [];
    drawMarkers();
  }

  async function loadTrades() {
    const trades = await net.api("GET", "/trades?limit=50");
    if (!trades) return;
    state.trades = trades.trades || [];
    panels.trades(state.trades, decimals);
  }

  // Realised PnL today: the trades closed since the UTC day began (the broker's day, on the
  // exchange's clock: the last quote's time).
  async function loadToday() {
    const now = state.lastTs || Date.now();
    const dayStart = Math.floor(now / DAY_MS) * DAY_MS;
    const trades = await net.api("GET", `/trades?limit=1000&since=${dayStart}`);
    if (!trades) return;
    const list = trades.trades || [];
    state.dayStart = dayStart;
    state.today = { realized: panels.sum(list.map((t) => t.realized_pnl)), count: list.length };
    dash.todayRealized = state.today.realized;
    if (state.status) panels.account(state.status, state.today);
  }

  async function loadEquity() {
    const history = await net.api("GET", "/equity?points=400");
    if (!history) return;
    const points = history.points || [];
    dash.equityPoints = equity.setPoints(points);
    dash.equityRefreshes += 1;
    $("equity-empty").hidden = points.length > 0;
    const last = points[points.length - 1];
    dash.equityLast = last ? last.equity : null;
    dash.equityLastTs = last ? last.ts : 0;
    const legend = [["equity", "#4aa3ff", true], ["balance", "#c8cdd2", false],
      ["unrealized", "#ab47bc", true], ["funding_paid", "#ff9800", true]];
    $("equity-legend").replaceChildren(...legend.map(([key, color, solid]) => {
      const item = document.createElement("span");
      item.dataset.series = key;
      const swatch = document.createElement("i");
      swatch.style.borderColor = color;
      if (solid) swatch.className = "solid";
      const label = key === "balance" ? "balance (realised)" : key.replace("_", " ");
      item.append(swatch, `${label} ${last ? fmt.money(last[key]) : fmt.DASH}`);
      return item;
    }));
  }

  async function refresh() {
    try {
      const status = await net.api("GET", "/status");
      if (status) onStatus(status);
      await Promise.all([loadChart(), loadTrades(), loadToday(), loadEquity()]);
    } catch (error) {
      report(error);
    }
  }

  setInterval(() => {
    loadEquity().catch(report);
    const now = state.lastTs || Date.now();
    if (state.dayStart !== null && Math.floor(now / DAY_MS) * DAY_MS !== state.dayStart) {
      loadToday().catch(report);
    }
  }, EQUITY_PERIOD_MS);

  // --- actions ---------------------------------------------------------------------------
  function target() {
    return state.symbols.length > 1 && !$("all-symbols").checked ? state.selected : null;
  }

  async function control(path, body) {
    $("message").textContent = "";
    try {
      const answer = await net.api("POST", path, body);
      if (answer && answer.mode) onStatus(answer);
      if (answer && answer.closed === false) $("message").textContent = `flatten: ${answer.reason}`;
    } catch (error) {
      $("message").textContent = `${path}: ${error.message}`;
    }
  }

  $("pause-btn").addEventListener("click", () => {
    const symbol = target();
    control("/pause", symbol ? { reason: "manual (browser)", symbol } : { reason: "manual (browser)" });
  });
  $("resume-btn").addEventListener("click", () => {
    const symbol = target();
    control(symbol ? `/resume?symbol=${encodeURIComponent(symbol)}` : "/resume");
  });
  // Flatten closes at market: the first click arms it, a second one within 4 s sends it.
  $("flatten-btn").addEventListener("click", () => {
    const button = $("flatten-btn");
    const symbol = target();
    if (!button.dataset.armed) {
      button.dataset.armed = "1";
      button.textContent = `Confirm flatten ${symbol || "all"}`;
      setTimeout(() => { delete button.dataset.armed; button.textContent = "Flatten"; }, 4000);
      return;
    }
    delete button.dataset.armed;
    button.textContent = "Flatten";
    control(symbol ? `/flatten?symbol=${encodeURIComponent(symbol)}` : "/flatten");
  });

  // --- the feed ----------------------------------------------------------------------------
  net.connect({
    open() {
      dash.connects += 1;
      $("api-state").textContent = "connected";
      $("api-state").className = "good";
      refresh();
    },
    close() {
      $("api-state").textContent = "disconnected, retrying";
      $("api-state").className = "bad";
    },
    message(msg) {
      if (msg.type === "tick") onTick(msg.data);
      else if (msg.type === "candle") onCandle(msg.data);
      else if (msg.type === "status") onStatus(msg.data);
      else if (msg.type === "trade") onTrade(msg.data);
      else if (msg.type === "order") soon("equity", loadEquity, 300);
      else if (msg.type === "overflow") refresh();
      else if (msg.type === "subscribed") dash.subscribed += 1;
    },
  });
})();
