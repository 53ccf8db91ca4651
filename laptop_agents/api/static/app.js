// laptop-agents browser page: live ticks and 1-minute candles over WS /ws, status and
// Pause/Resume over the HTTP API. No build step, no CDN: lightweight-charts is served from the
// package (static/vendor). The token is asked once and kept in sessionStorage (this tab only).
"use strict";

(function () {
  const TOKEN_KEY = "la_api_token";
  const $ = (id) => document.getElementById(id);
  const state = { ws: null, retryMs: 500, lastTickTime: 0, lastCandleTime: 0, priceLines: [], levels: [] };
  // Counters the browser test reads; harmless for people.
  const dash = (window.laDashboard = {
    ticks: 0, plotted: 0, candles: 0, statuses: 0, trades: 0, connects: 0, subscribed: 0,
  });

  // --- chart ---------------------------------------------------------------------------
  const chart = LightweightCharts.createChart($("chart"), {
    autoSize: true,
    layout: { background: { color: "#111418" }, textColor: "#c8cdd2" },
    grid: { vertLines: { color: "#1f252b" }, horzLines: { color: "#1f252b" } },
    timeScale: { timeVisible: true, secondsVisible: true },
  });
  // Keep the position's entry/stop/target lines in view: widen the autoscaled price range.
  const candleSeries = chart.addCandlestickSeries({
    autoscaleInfoProvider: (original) => {
      const info = original();
      if (!info || !info.priceRange || !state.levels.length) return info;
      info.priceRange.minValue = Math.min(info.priceRange.minValue, ...state.levels);
      info.priceRange.maxValue = Math.max(info.priceRange.maxValue, ...state.levels);
      return info;
    },
  });
  const tickSeries = chart.addLineSeries({ color: "#4aa3ff", lineWidth: 1, title: "mid" });

  const num = (v) => (v === null || v === undefined ? NaN : Number(v));
  const show = (v) => (v === null || v === undefined ? "–" : String(v));

  function candleBar(c) {
    return {
      time: Math.floor(c.open_time / 1000),
      open: num(c.open), high: num(c.high), low: num(c.low), close: num(c.close),
    };
  }

  function setCandles(list) {
    const bars = list.map(candleBar).sort((a, b) => a.time - b.time);
    const unique = bars.filter((b, i) => i === 0 || b.time !== bars[i - 1].time);
    candleSeries.setData(unique);
    state.lastCandleTime = unique.length ? unique[unique.length - 1].time : 0;
    dash.candles = unique.length;
    chart.timeScale().fitContent();
  }

  function onCandle(c) {
    const bar = candleBar(c);
    if (bar.time < state.lastCandleTime || Number.isNaN(bar.close)) return; // charts need order
    candleSeries.update(bar);
    if (bar.time > state.lastCandleTime) dash.candles += 1;
    state.lastCandleTime = bar.time;
  }

  function onTick(t) {
    $("bid").textContent = show(t.bid);
    $("ask").textContent = show(t.ask);
    $("last").textContent = show(t.last !== null && t.last !== undefined ? t.last : null);
    const mid = (num(t.bid) + num(t.ask)) / 2;
    const time = Math.floor(num(t.ts) / 1000);
    if (!Number.isNaN(mid) && !Number.isNaN(time)) {
      // A restarted daemon's simulator starts its clock over, earlier than the line's last
      // point: start the line afresh rather than ignore every tick until the clock catches up.
      // (A tick at most a few seconds late is only skipped: the chart needs ascending times.)
      if (time < state.lastTickTime - 5) {
        tickSeries.setData([]);
        state.lastTickTime = 0;
      }
      if (time >= state.lastTickTime) {
        tickSeries.update({ time: time, value: mid });
        state.lastTickTime = time;
        dash.plotted += 1;
      }
    }
    dash.ticks += 1;
  }

  function onTrade(t, history) {
    if (!history) dash.trades += 1;
    const li = document.createElement("li");
    const pnl = t.realized_pnl !== undefined ? t.realized_pnl : t.pnl;
    li.textContent = [t.side, show(t.entry_price), "→", show(t.exit_price), "pnl", show(pnl),
      t.exit_reason || ""].join(" ");
    $("trades").prepend(li);
    while ($("trades").children.length > 20) $("trades").lastChild.remove();
  }

  function setPriceLines(position) {
    for (const line of state.priceLines) candleSeries.removePriceLine(line);
    state.priceLines = [];
    state.levels = [];
    if (!position) return;
    const add = (price, color, title) => {
      if (price === null || price === undefined || Number.isNaN(num(price))) return;
      state.levels.push(num(price));
      state.priceLines.push(candleSeries.createPriceLine({
        price: num(price), color: color, lineWidth: 1, lineStyle: 2, axisLabelVisible: true,
        title: title,
      }));
    };
    add(position.entry, "#c8cdd2", "entry");
    add(position.stop, "#ef5350", "stop");
    add(position.target, "#26a69a", "target");
    add(position.liquidation_price, "#ff9800", "liquidation");
  }

  function onStatus(s) {
    dash.statuses += 1;
    $("symbol").textContent = show(s.symbol);
    $("source").textContent = s.source ? `(${s.source}, ${s.mode || ""})` : "";
    const feed = s.feed || {};
    $("feed-state").textContent = show(feed.state);
    $("feed-state").className = feed.state === "connected" ? "good" : "bad";
    $("feed-age").textContent = typeof feed.last_tick_age_s === "number"
      ? `last tick ${feed.last_tick_age_s.toFixed(1)} s ago` : "";
    const gate = s.gate || {};
    $("gate").textContent = gate.trading_allowed ? "trading" : "paused";
    $("gate").className = gate.trading_allowed ? "good" : "warn";
    $("reasons").textContent = (gate.reasons || []).join(", ");
    $("equity").textContent = show(s.equity);
    $("pnl").textContent = show(s.realized_pnl_today);
    const p = s.position;
    $("position").textContent = p ? `${p.side} ${p.size} @ ${p.entry} (stop ${show(p.stop)}, ` +
      `target ${show(p.target)})` : "flat";
    $("upnl").textContent = p ? show(p.unrealized_pnl) : "–";
    $("margin").textContent = p ? `${show(p.margin)} at ${show(p.leverage)}x` : "–";
    $("liquidation").textContent = p ? show(p.liquidation_price) : "–";
    $("funding").textContent = show((s.account || {}).funding_paid);
    setPriceLines(p);
  }

  // --- token and HTTP --------------------------------------------------------------------
  // One dialog at a time: the HTTP calls and the socket may all need the token at once.
  let pendingToken = null;
  function askToken() {
    if (!pendingToken) {
      pendingToken = showTokenDialog().then((token) => {
        sendAuth(token);  // an open socket may be waiting for it (reads need the token)
        return token;
      }).finally(() => { pendingToken = null; });
    }
    return pendingToken;
  }

  function showTokenDialog() {
    return new Promise((resolve) => {
      const dialog = $("token-dialog");
      $("token").value = "";
      dialog.onclose = () => {
        const value = $("token").value.trim();
        if (dialog.returnValue === "ok" && value) {
          sessionStorage.setItem(TOKEN_KEY, value);
          resolve(value);
        } else {
          resolve(null);
        }
      };
      dialog.showModal();
    });
  }

  async function api(method, path, body) {
    for (let attempt = 0; attempt < 2; attempt++) {
      let token = sessionStorage.getItem(TOKEN_KEY);
      if (!token && method !== "GET") token = await askToken();
      if (!token && method !== "GET") return null;
      const headers = token ? { Authorization: `Bearer ${token}` } : {};
      if (body !== undefined) headers["Content-Type"] = "application/json";
      const response = await fetch(path, {
        method: method, headers: headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const data = await response.json().catch(() => ({}));
      if (response.status === 401) {
        sessionStorage.removeItem(TOKEN_KEY);
        if (!(await askToken())) return null;
        continue;
      }
      if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
      return data;
    }
    return null;
  }

  async function control(path, body) {
    $("message").textContent = "";
    try {
      const status = await api("POST", path, body);
      if (status) onStatus(status);
    } catch (error) {
      $("message").textContent = `${path}: ${error.message}`;
    }
  }

  $("pause-btn").addEventListener("click", () => control("/pause", { reason: "manual (browser)" }));
  $("resume-btn").addEventListener("click", () => control("/resume"));

  async function refresh() {
    try {
      const candles = await api("GET", "/candles?limit=300");
      if (candles) setCandles(candles.candles || []);
      const status = await api("GET", "/status");
      if (status) onStatus(status);
      const trades = await api("GET", "/trades?limit=20");
      if (trades) {
        $("trades").replaceChildren();
        // newest first from the API; prepend oldest first so the newest ends on top
        for (const t of (trades.trades || []).slice().reverse()) onTrade(t, true);
      }
    } catch (error) {
      $("message").textContent = `refresh: ${error.message}`;
    }
  }

  // --- WebSocket feed, reconnecting on its own -----------------------------------------------
  function sendAuth(token) {
    const ws = state.ws;
    if (token && ws && ws.readyState === WebSocket.OPEN && !ws.authSent) {
      ws.authSent = true;
      ws.send(JSON.stringify({ op: "auth", token: token }));
    }
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/ws`);
    state.ws = ws;
    ws.onopen = () => {
      sendAuth(sessionStorage.getItem(TOKEN_KEY));
      state.retryMs = 500;
      dash.connects += 1;
      $("api-state").textContent = "connected";
      $("api-state").className = "good";
      refresh();
    };
    ws.onmessage = (event) => {
      let msg;
      try { msg = JSON.parse(event.data); } catch (e) { return; }
      if (msg.type === "tick") onTick(msg.data);
      else if (msg.type === "candle") onCandle(msg.data);
      else if (msg.type === "status") onStatus(msg.data);
      else if (msg.type === "trade") onTrade(msg.data);
      else if (msg.type === "overflow") refresh();
      else if (msg.type === "subscribed") dash.subscribed += 1;
    };
    ws.onclose = async (event) => {
      $("api-state").textContent = "disconnected, retrying";
      $("api-state").className = "bad";
      if (event.code === 4401) {
        // refused: the token was missing or wrong; ask unless a fresh one is already stored
        if (ws.authSent) sessionStorage.removeItem(TOKEN_KEY);
        if (!sessionStorage.getItem(TOKEN_KEY)) await askToken();
      }
      setTimeout(connect, state.retryMs);
      state.retryMs = Math.min(state.retryMs * 2, 5000);
    };
  }

  connect();
})();
